"""Background work of footage's records: the periodic purge and Object Lock on stored clips."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="apps.footage.records_tasks.purge_expired_clips", time_limit=3600, soft_time_limit=3540)
def purge_expired_clips() -> dict:
    """Deletes the bytes of clips whose retention has passed (never a held one), leaving tombstones."""
    from .services import clips_purge_expired

    return clips_purge_expired()


@shared_task(name="apps.footage.records_tasks.clip_object_lock_sync", acks_late=True)
def clip_object_lock_sync(clip_id: str) -> str | None:
    """Makes one clip's Object Lock (retention, legal hold) match its row; a no-op without Object Lock."""
    from .services import clip_object_lock

    clip = clip_object_lock(clip_id=clip_id)
    return clip.state if clip else None


@shared_task(name="apps.footage.records_tasks.object_lock_sweep")
def object_lock_sweep() -> int:
    """Sets Object Lock on clips that became available (verification is ingest's)."""
    from .services import clips_object_lock_sweep

    return clips_object_lock_sweep()
