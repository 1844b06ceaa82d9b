"""LiveViewer.officer_phones_owed gets a database default: 0002 added it NOT NULL without one, so
the code of a release before it, still serving while the new one rolls out, failed every first
look at a live view (500). Setting a default changes no row and rewrites nothing."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('live', '0003_viewer_notice_lease'),
    ]

    operations = [
        migrations.AlterField(
            model_name='liveviewer',
            name='officer_phones_owed',
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
    ]
