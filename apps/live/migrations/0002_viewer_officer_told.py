"""LiveViewer.officer_told_at: the officer's push for a first look is owed until it is taken for
sending, and the sweep queues owed ones again (officer_phones_owed: to the phones FCM did not take
it for). Viewers recorded before this were told (or lost)
already: they are marked told at their first look, so that no old notice is sent now."""

from django.db import migrations, models
from django.db.models import F


def mark_told(apps, schema_editor):
    apps.get_model("live", "LiveViewer").objects.update(officer_told_at=F("first_viewed_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("live", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="liveviewer",
            name="officer_told_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="liveviewer",
            name="officer_phones_owed",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(mark_told, migrations.RunPython.noop),
    ]
