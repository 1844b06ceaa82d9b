"""The categories present from the start: uncategorized (180 days) and evidence (kept indefinitely)."""

from django.db import migrations

DEFAULTS = [
    ("uncategorized", "Uncategorized", 180),
    ("evidence", "Evidence", None),
]


def create(apps, schema_editor):
    Category = apps.get_model("footage", "Category")
    for slug, name, days in DEFAULTS:
        Category.objects.get_or_create(slug=slug, defaults={"name": name, "retention_days": days})


class Migration(migrations.Migration):
    dependencies = [("footage", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
