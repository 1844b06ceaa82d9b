BEAT_SCHEDULE = {
    "rtcc-core-audit-verify": {"task": "apps.core.tasks.audit_verify", "schedule": 6 * 3600.0},
}
