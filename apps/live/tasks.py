"""Background work of live view: the officer's notice, the session sweep, segment retention."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def live_notify_officer(viewer_id: int) -> None:
    services.live_notify_officer(viewer_id=viewer_id)


@shared_task(ignore_result=True)
def live_sweep() -> dict:
    return services.live_sweep()


@shared_task(ignore_result=True)
def live_segments_purge() -> int:
    return services.segments_purge()
