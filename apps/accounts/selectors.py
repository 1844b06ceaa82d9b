"""Every non-trivial read about people: the users list, one user, a username's lockout."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import LoginAttempt, Role, User


def user_list(*, role: str | None = None) -> QuerySet[User]:
    """Users by username; `role` filters by effective role (a superuser is IT whatever it stores)."""
    users = User.objects.order_by("username")
    if role == Role.IT:
        return users.filter(Q(role=role) | Q(is_superuser=True))
    if role:
        return users.filter(role=role, is_superuser=False)
    return users


def user_get(*, user_id) -> User:
    """One user, or the contract's 404."""
    return get_object_or_404(User, pk=user_id)


def _lockout_remaining(attempts, *, max_failures: int, reset_on_success: bool, now) -> int:
    """Seconds left on a lockout over these attempts, 0 when none: it starts at the Nth failure
    within the failure window and lasts RTCC_LOGIN_LOCKOUT."""
    window, lockout = settings.RTCC_LOGIN_FAILURE_WINDOW, settings.RTCC_LOGIN_LOCKOUT
    recent = attempts.filter(at__gte=now - window - lockout).order_by("at").values_list("at", "succeeded")
    failures: list = []
    remaining = 0
    for at, succeeded in recent:
        if succeeded:
            if reset_on_success:
                failures.clear()
            continue
        failures = [f for f in failures if f >= at - window] + [at]
        if len(failures) >= max_failures:
            locked_until = at + lockout
            if locked_until > now:
                remaining = max(remaining, int((locked_until - now).total_seconds()) + 1)
    return remaining


def login_lockout_remaining(*, username: str, source_ip: str | None = None) -> int:
    """Seconds left before this username may try from this address, 0 when it may.

    Counted per username and address (a stranger cannot lock someone out from elsewhere), per
    address over every username (one address guessing many accounts is slowed), and per
    username over every address at a higher count (a guessing attack spread over addresses)."""
    now = timezone.now()
    name = username.lower()
    checks = [
        (LoginAttempt.objects.filter(username=name), settings.RTCC_LOGIN_MAX_FAILURES_PER_USER, True),
    ]
    if source_ip:
        checks += [
            (LoginAttempt.objects.filter(username=name, source_ip=source_ip), settings.RTCC_LOGIN_MAX_FAILURES, True),
            (LoginAttempt.objects.filter(source_ip=source_ip), settings.RTCC_LOGIN_MAX_FAILURES_PER_ADDRESS, False),
        ]
    else:
        checks.append((LoginAttempt.objects.filter(username=name), settings.RTCC_LOGIN_MAX_FAILURES, True))
    return max(
        _lockout_remaining(attempts, max_failures=limit, reset_on_success=reset, now=now)
        for attempts, limit, reset in checks
    )
