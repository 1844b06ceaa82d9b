"""Periodic tasks of apps.integrations (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-integrations-delete-leftovers": {"task": "apps.integrations.tasks.delete_leftovers", "schedule": 300.0},
}
