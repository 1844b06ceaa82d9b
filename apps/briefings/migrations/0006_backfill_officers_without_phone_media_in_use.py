"""Fills in the two columns 0004 and 0005 added, for the rows made before them, apart from the
schema changes: a migration runs in one transaction, and the table a column was added to stays
locked against every read until it commits. The counts read every delivery and the photos every
briefing: done there, phones' polls and the console waited on the briefings (and photos) table for
as long (seconds for a few million deliveries). Here, outside any transaction (each statement
its own), the tables stay readable and writable; running it again gives the same result."""

import uuid

from django.db import migrations
from django.db.models import Count, F, Q

# The errors a delivery row is made with when no push can go (services._initial_rows); every
# other row was queued, whatever became of it.
NOT_PUSHED = ("no_phone", "no_push_token")


def count_existing(apps, schema_editor):
    """Briefings sent before the field: their officers none of whose rows was queued."""
    Briefing = apps.get_model("briefings", "Briefing")
    counted = (
        Briefing.objects.annotate(
            officers=Count("deliveries__officer", distinct=True),
            pushed=Count("deliveries__officer", distinct=True, filter=~Q(deliveries__error__in=NOT_PUSHED)),
        )
        .filter(officers__gt=F("pushed"))
        .values_list("pk", "officers", "pushed")
    )
    found = [Briefing(pk=pk, officers_without_phone=officers - pushed) for pk, officers, pushed in counted]
    Briefing.objects.bulk_update(found, ["officers_without_phone"], batch_size=2000)


def _ids(values):
    """The media ids among these photo values (one that is not a UUID names no media)."""
    for value in values:
        try:
            yield uuid.UUID(str(value))
        except ValueError:
            continue


def mark_media_in_briefings(apps, schema_editor):
    """Photos already named by a briefing are in use: the purge of unused media never sees them."""
    Briefing = apps.get_model("briefings", "Briefing")
    Media = apps.get_model("briefings", "Media")
    named = set()
    for suspects, vehicles in Briefing.objects.values_list("suspects", "vehicles").iterator(chunk_size=2000):
        named.update(item.get("photo") for item in (suspects or []) + (vehicles or []) if isinstance(item, dict))
    named = sorted(set(_ids(v for v in named if v)))
    for start in range(0, len(named), 1000):
        Media.objects.filter(pk__in=named[start : start + 1000]).update(in_use=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("briefings", "0005_media_in_use"),
    ]

    operations = [
        migrations.RunPython(count_existing, migrations.RunPython.noop),
        migrations.RunPython(mark_media_in_briefings, migrations.RunPython.noop),
    ]
