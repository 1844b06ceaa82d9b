"""Periodic housekeeping of people's credentials: ended tokens and old login attempts deleted."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="apps.accounts.tasks.tokens_prune", ignore_result=True)
def tokens_prune() -> int:
    """Deletes API tokens long expired or revoked (one per login otherwise stays for ever)."""
    from .services import tokens_prune as prune

    deleted = prune()
    if deleted:
        log.info("accounts: %d API tokens that ended long ago deleted", deleted)
    return deleted


@shared_task(name="apps.accounts.tasks.login_attempts_prune", ignore_result=True)
def login_attempts_prune() -> int:
    """Deletes login attempts the lockout no longer counts (anyone can add one per try)."""
    from .services import login_attempts_prune as prune

    deleted = prune()
    if deleted:
        log.info("accounts: %d login attempts past the lockout window deleted", deleted)
    return deleted
