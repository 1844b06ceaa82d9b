from datetime import UTC, datetime

from django.db import migrations

EXACT_SINCE = "counters.exact_since"  # apps.counters.models.EXACT_SINCE, as it is today
BEGINNING = datetime(1900, 1, 1, tzinfo=UTC)


def exact_from_the_start(apps, schema_editor):
    """A database that had counted nothing when its exact rows began (a new install) has an exact
    row for every event it ever counts, whatever time the event gives (an assist logged for last
    week): its windows are exact from the beginning, within the exact rows' week, not only from
    the moment it was installed. A database that had counted events before keeps its mark."""
    Count = apps.get_model("counters", "Count")
    if not Count.objects.exclude(name=EXACT_SINCE).exists():
        Count.objects.filter(level="e", name=EXACT_SINCE).update(start=BEGINNING)


class Migration(migrations.Migration):
    dependencies = [
        ("counters", "0003_exact_rows"),
    ]

    operations = [
        migrations.RunPython(exact_from_the_start, migrations.RunPython.noop),
    ]
