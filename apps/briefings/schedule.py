"""Periodic tasks of the briefings app (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-briefings-push-sweep": {"task": "apps.briefings.tasks.push_sweep", "schedule": 15.0},
}
