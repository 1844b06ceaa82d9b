"""What a transient database error (a dropped connection, a failover, a serialization failure)
means for work that can run again: it is tried again, backing off. Only for idempotent work (the
database says what is still owed), so a rerun is harmless. The same pauses serve work that waits
for another service to come back (the object store's small PUT)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

DB_ERRORS = (OperationalError, InterfaceError)

T = TypeVar("T")
log = logging.getLogger(__name__)


def pauses(seconds: float) -> Iterator[float]:
    """The pauses between tries of work that waits for a service to come back (the database
    restarting or failing over, the store not answering): 50 ms, then four times longer each
    time up to 1 s, as long as the next pause ends within `seconds` of the first failure."""
    deadline = time.monotonic() + seconds
    pause = 0.05
    while time.monotonic() + pause <= deadline:
        yield pause
        pause = min(1.0, pause * 4)


def db_retried(work: Callable[[], T], *, seconds: float = 10.0) -> T:
    """work(), again over a new connection after a transient database error (a restart), with
    pauses() between tries for about `seconds`; then the last error is raised. Outside a
    transaction only (a lost connection takes the transaction with it)."""
    for pause in pauses(seconds):
        try:
            return work()
        except DB_ERRORS:
            if connection.in_atomic_block:
                raise
            connection.close_if_unusable_or_obsolete()
            time.sleep(pause)
    return work()


async def db_retried_async(work: Callable[[], Awaitable[T]], *, seconds: float = 0.6) -> T:
    """As db_retried(), for async work (a device frame's handler, which reaches the database
    through database_sync_to_async or aiodb, each taking a usable connection): with pauses()
    for about `seconds` (a device waits for its answer), then the last error is raised."""
    for pause in pauses(seconds):
        try:
            return await work()
        except DB_ERRORS as exc:
            log.warning("database error in async work, trying again in %.2f s: %s", pause, exc)
            await asyncio.sleep(pause)
    return await work()


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
