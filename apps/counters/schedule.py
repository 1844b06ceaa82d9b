"""Periodic tasks of the counters (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-counters-prune": {"task": "apps.counters.tasks.counters_prune", "schedule": 3600.0},
}
