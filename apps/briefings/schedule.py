"""Periodic tasks of the briefings app (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-briefings-push-sweep": {"task": "apps.briefings.tasks.push_sweep", "schedule": 15.0},
    "rtcc-briefings-media-purge": {"task": "apps.briefings.tasks.media_purge", "schedule": 3600.0},
}
