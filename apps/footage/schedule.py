"""Periodic tasks of apps.footage (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-footage-sweep-uploads": {"task": "apps.footage.tasks.sweep_uploads", "schedule": 600.0},
    # Verifications whose lease or retry time passed (a worker killed mid-read, the store down).
    "rtcc-footage-verify-sweep": {"task": "apps.footage.tasks.verify_sweep", "schedule": 5.0},
    # Records: delete the bytes of clips past retention (tombstones stay); Object Lock new clips.
    "rtcc-footage-purge-expired": {"task": "apps.footage.records_tasks.purge_expired_clips", "schedule": 3600.0},
    "rtcc-footage-object-lock": {"task": "apps.footage.records_tasks.object_lock_sweep", "schedule": 300.0},
}
