"""Entries whose plate holds letters or digits of another script are folded again (plates.fold
now takes Cyrillic and Greek letters drawn like Latin ones, and any script's digits, for the Latin
letter and the ASCII digit), so that they are similar to the reads they look like. Stored reads
keep their folding: they are history."""

from django.db import migrations


# A character outside printable ASCII: the database picks the few plates to fold again. Reading
# every entry into Python took 42 s for 5 million (a year of daily replaced lists keeps far more:
# a replaced entry stays, removed) while the new release's processes waited for the migration.
NOT_ASCII = r"[^ -~]"


def refold(apps, schema_editor):
    from apps.core import plates

    Entry = apps.get_model("alpr", "Entry")
    others = Entry.objects.filter(plate_normalized__regex=NOT_ASCII).only("pk", "plate_normalized", "plate_folded")
    for entry in others.iterator():
        folded = plates.fold(entry.plate_normalized)
        if folded != entry.plate_folded:
            Entry.objects.filter(pk=entry.pk).update(plate_folded=folded)


class Migration(migrations.Migration):
    dependencies = [("alpr", "0002_hit_and_live_entry_indexes")]

    operations = [migrations.RunPython(refold, migrations.RunPython.noop)]
