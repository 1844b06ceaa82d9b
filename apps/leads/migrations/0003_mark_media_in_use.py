import uuid

from django.db import migrations


def mark_media_in_leads(apps, schema_editor):
    """Photos a lead already names (its probe image, its candidates' photos) are in use: the purge
    of unused media never sees them."""
    Lead = apps.get_model("leads", "Lead")
    Media = apps.get_model("briefings", "Media")
    named = set()
    for probe, candidates in Lead.objects.values_list("probe_media_id", "candidates").iterator(chunk_size=2000):
        if probe:
            named.add(probe)
        for candidate in candidates or []:
            photo = candidate.get("photo") if isinstance(candidate, dict) else None
            try:
                named.add(uuid.UUID(str(photo)))
            except ValueError:  # no photo, or one that names no media
                continue
    named = sorted(named)
    for start in range(0, len(named), 1000):
        Media.objects.filter(pk__in=named[start : start + 1000]).update(in_use=True)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0002_lead_created_by_badge"),
        ("briefings", "0005_media_in_use"),
    ]

    operations = [
        migrations.RunPython(mark_media_in_leads, migrations.RunPython.noop),
    ]
