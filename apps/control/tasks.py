"""Background work of remote recording: phone wake-ups, officer notices, the expiry sweep."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services

# A transient database error (a dropped connection, a failover) is tried again, backing off;
# the tasks are idempotent (the database says what is still owed), so a rerun is harmless.
DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(
    ignore_result=True,
    autoretry_for=DB_ERRORS,
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=10,
)
def command_wake_phone(command_id: str) -> None:
    services.command_wake_phone(command_id=command_id)


@shared_task(
    ignore_result=True,
    autoretry_for=DB_ERRORS,
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=10,
)
def command_notify_officer(command_id: str) -> None:
    services.command_notify_officer(command_id=command_id)


@shared_task(ignore_result=True)
def command_expire(command_id: str) -> None:
    services.command_expire(command_id=command_id)


@shared_task(ignore_result=True)
def commands_expire() -> dict:
    return {
        **services.command_expire_due(),
        "resent": services.command_resend_queued(),
        "notices": services.command_notices_sweep(),
    }
