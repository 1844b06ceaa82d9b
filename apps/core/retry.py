"""What a transient database error (a dropped connection, a failover, a serialization failure)
means for work that can run again: it is tried again, backing off. Only for idempotent work (the
database says what is still owed), so a rerun is harmless."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

DB_ERRORS = (OperationalError, InterfaceError)


def task_retries(*, backoff: int = 1, backoff_max: int = 30, max_retries: int = 10) -> dict:
    """Celery options for a task retried on DB_ERRORS with jittered exponential backoff:
    `@shared_task(ignore_result=True, **task_retries())`."""
    return {
        "autoretry_for": DB_ERRORS,
        "retry_backoff": backoff,
        "retry_backoff_max": backoff_max,
        "retry_jitter": True,
        "max_retries": max_retries,
    }
