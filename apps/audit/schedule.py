"""Periodic tasks of apps.audit (merged into CELERY_BEAT_SCHEDULE by the settings); the entry and
task keep the names they had in apps.core."""

BEAT_SCHEDULE = {
    "rtcc-core-audit-verify": {"task": "apps.core.tasks.audit_verify", "schedule": 6 * 3600.0},
}
