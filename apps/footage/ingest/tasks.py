"""Background work of footage's ingest: verification of uploaded clips, stale-upload sweeps."""

from __future__ import annotations

from celery import shared_task

from apps.core.retry import task_retries


@shared_task(
    name="apps.footage.tasks.verify_clip",
    time_limit=4 * 3600,
    soft_time_limit=4 * 3600 - 60,
    acks_late=True,
    **task_retries(backoff=2, backoff_max=60),
)
def verify_clip(clip_id: str) -> str | None:
    """Reads the clip's object once and marks it available or corrupt (a no-op unless `verifying`)."""
    from .services import clip_verify

    clip = clip_verify(clip_id=clip_id)
    return clip.state if clip else None


@shared_task(name="apps.footage.tasks.sweep_uploads")
def sweep_uploads() -> dict:
    """Aborts uploads left unfinished too long; re-queues verifications a lost worker dropped."""
    from .services import clips_abort_stale, clips_requeue_verification

    return {"aborted": clips_abort_stale(), "requeued": clips_requeue_verification()}
