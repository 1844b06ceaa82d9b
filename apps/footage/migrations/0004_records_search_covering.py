"""Records side: covering indexes for footage search on PostgreSQL (each filter's index also carries
ended_at, so the time-overlap filter and the capped count run as index-only scans), and state + time.

PostgreSQL only (INCLUDE columns); the embedded SQLite default keeps the model's plain indexes.
They live outside the model state on purpose: Django would warn on SQLite about INCLUDE indexes.
"""

from django.db import migrations

INDEXES = {
    "clip_rs_officer": "officer_id, started_at",
    "clip_rs_device": "device_id, started_at",
    "clip_rs_case": "case_number, started_at",
    "clip_rs_category": "category_id, started_at",
    "clip_rs_incident": "incident_id, started_at",
    "clip_rs_state": "state, started_at",
    "clip_rs_started": "started_at",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON footage_clip ({columns}) INCLUDE (ended_at)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("footage", "0003_records_tombstone_lock")]

    operations = [migrations.RunPython(create, drop)]
