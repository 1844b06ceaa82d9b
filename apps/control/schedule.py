"""Periodic tasks of remote recording (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-control-expire-commands": {"task": "apps.control.tasks.commands_expire", "schedule": 5.0},
}
