"""Periodic tasks of apps.devices (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-devices-presence-sweep": {"task": "apps.devices.tasks.presence_sweep", "schedule": 20.0},
    "rtcc-devices-enroll-failures-prune": {"task": "apps.devices.tasks.enroll_failures_prune", "schedule": 3600.0},
}
