"""Periodic work of the integrations."""

from __future__ import annotations

from celery import shared_task

from . import leftovers


@shared_task(name="apps.integrations.tasks.delete_leftovers")
def delete_leftovers() -> dict:
    """Deletes again the objects whose delete the store refused (every five minutes)."""
    return leftovers.retry()
