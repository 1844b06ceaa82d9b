"""Background work of the counters: exact rows past their keeping deleted."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def counters_prune() -> int:
    return services.counters_prune()
