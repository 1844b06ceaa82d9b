"""Background work of remote recording: phone wake-ups, officer notices, the expiry sweep."""

from __future__ import annotations

from celery import shared_task

from apps.core.retry import task_retries

from . import services


@shared_task(ignore_result=True, **task_retries())
def command_wake_phone(command_id: str) -> None:
    services.command_wake_phone(command_id=command_id)


@shared_task(ignore_result=True, **task_retries())
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
        "woken": services.command_wake_due(),
        "notices": services.command_notices_sweep(),
    }
