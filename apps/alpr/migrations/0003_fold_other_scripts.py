"""Entries whose plate holds letters or digits of another script are folded again (plates.fold
now takes Cyrillic and Greek letters drawn like Latin ones, and any script's digits, for the Latin
letter and the ASCII digit), so that they are similar to the reads they look like. Stored reads
keep their folding: they are history."""

from django.db import migrations


def refold(apps, schema_editor):
    from apps.core import plates

    Entry = apps.get_model("alpr", "Entry")
    for entry in Entry.objects.only("pk", "plate_normalized", "plate_folded").iterator():
        if not entry.plate_normalized.isascii():
            folded = plates.fold(entry.plate_normalized)
            if folded != entry.plate_folded:
                Entry.objects.filter(pk=entry.pk).update(plate_folded=folded)


class Migration(migrations.Migration):
    dependencies = [("alpr", "0002_hit_and_live_entry_indexes")]

    operations = [migrations.RunPython(refold, migrations.RunPython.noop)]
