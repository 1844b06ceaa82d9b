"""LiveViewer.officer_notice_lease: the officer's push for a first look is held by its sender for a
while and marked told (officer_told_at) only once FCM took it, so that a worker that died sending
leaves it owed. Viewers recorded before this keep officer_told_at as it was."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("live", "0002_viewer_officer_told"),
    ]

    operations = [
        migrations.AddField(
            model_name="liveviewer",
            name="officer_notice_lease",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
