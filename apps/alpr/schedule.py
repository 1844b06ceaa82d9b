"""Periodic tasks of apps.alpr (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-alpr-expire-reads": {"task": "apps.alpr.tasks.expire_reads", "schedule": 60.0},
    "rtcc-alpr-partitions": {"task": "apps.alpr.tasks.ensure_partitions", "schedule": 3600.0},
}
