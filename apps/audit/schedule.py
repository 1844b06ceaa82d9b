"""Periodic tasks of apps.audit (merged into CELERY_BEAT_SCHEDULE by the settings); the entries and
tasks keep the names they had in apps.core."""

BEAT_SCHEDULE = {
    "rtcc-core-audit-checkpoint": {"task": "apps.core.tasks.audit_checkpoint", "schedule": 300.0},
    "rtcc-core-audit-verify": {"task": "apps.core.tasks.audit_verify", "schedule": 6 * 3600.0},
}
