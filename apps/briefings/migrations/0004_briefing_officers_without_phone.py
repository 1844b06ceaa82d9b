"""Briefing.officers_without_phone, with a database default: the previous release's code, still
serving while the new one rolls out (or after a rollback of the code), adds briefings without it:
NOT NULL without a default, each of them failed (500). Changed in place: 0004 was in no release."""

from django.db import migrations, models

class Migration(migrations.Migration):

    dependencies = [
        ('briefings', '0003_briefing_notice'),
    ]

    operations = [
        migrations.AddField(
            model_name='briefing',
            name='officers_without_phone',
            field=models.PositiveIntegerField(default=0, db_default=0),
        ),
    ]
