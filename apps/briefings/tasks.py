"""Background work of the briefings app: sending pushes in batches, the sweep that resends, and
the purge of photos never used."""

from __future__ import annotations

from celery import shared_task

from apps.core.retry import task_retries


# A transient database error is tried again with backoff (sends are idempotent: sent rows never go twice).
@shared_task(name="apps.briefings.tasks.push_deliveries", ignore_result=True, **task_retries())
def push_deliveries(delivery_ids: list[str], initial: bool = False) -> dict:
    """Sends one batch (at most 500) of deliveries; idempotent: sent rows are never sent again."""
    from .services import deliveries_send

    return deliveries_send(delivery_ids=delivery_ids, initial=initial)


@shared_task(name="apps.briefings.tasks.push_sweep", ignore_result=True)
def push_sweep() -> int:
    """Queues deliveries whose retry time or lease has passed (FCM or the broker was down)."""
    from .services import deliveries_sweep

    return deliveries_sweep()


@shared_task(name="apps.briefings.tasks.media_purge", ignore_result=True)
def media_purge() -> int:
    """Deletes photos uploaded a day ago that no briefing or lead named (row and objects)."""
    from .services import media_purge_unused

    return media_purge_unused()
