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


def login_lockout_remaining(*, username: str) -> int:
    """Seconds left on this username's lockout, 0 when it may try."""
    now = timezone.now()
    recent = list(
        LoginAttempt.objects.filter(
            username=username.lower(), at__gte=now - settings.RTCC_LOGIN_FAILURE_WINDOW - settings.RTCC_LOGIN_LOCKOUT
        )
        .order_by("at")
        .values_list("at", "succeeded")
    )
    # Walk failures in time order: the lockout starts at the Nth failure within the window.
    failures: list = []
    for at, succeeded in recent:
        if succeeded:
            failures.clear()
            continue
        failures = [f for f in failures if f >= at - settings.RTCC_LOGIN_FAILURE_WINDOW] + [at]
        if len(failures) >= settings.RTCC_LOGIN_MAX_FAILURES:
            locked_until = at + settings.RTCC_LOGIN_LOCKOUT
            if locked_until > now:
                return int((locked_until - now).total_seconds()) + 1
    return 0
