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
    """Reads the clip's object once and marks it available or corrupt (a no-op unless `verifying`
    and due: another reader holds the clip, or the store failed and it waits for its retry time)."""
    from .services import clip_verify

    clip = clip_verify(clip_id=clip_id)
    return clip.state if clip else None


@shared_task(name="apps.footage.tasks.sweep_uploads")
def sweep_uploads() -> dict:
    """Aborts uploads left unfinished too long."""
    from .services import clips_abort_stale

    return {"aborted": clips_abort_stale()}


@shared_task(name="apps.footage.tasks.verify_sweep", ignore_result=True)
def verify_sweep() -> dict:
    """Every few seconds: queues the verifications that are due (a lease run out, a store retry)."""
    from .services import clips_verify_due

    return {"queued": clips_verify_due()}
