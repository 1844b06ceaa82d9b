"""Periodic work of the plate-reader app."""

from __future__ import annotations

from celery import shared_task

from . import partitions, services


@shared_task(name="apps.alpr.tasks.expire_reads")
def expire_reads() -> int:
    """Deletes reads past retention (every minute: the contract allows two minutes' lag)."""
    return services.reads_expire()


@shared_task(name="apps.alpr.tasks.ensure_partitions")
def ensure_partitions() -> int:
    return len(partitions.ensure_partitions())
