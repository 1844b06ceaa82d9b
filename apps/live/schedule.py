"""Periodic tasks of live view (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-live-sweep": {"task": "apps.live.tasks.live_sweep", "schedule": 5.0},
    "rtcc-live-purge-segments": {"task": "apps.live.tasks.live_segments_purge", "schedule": 60.0},
}
