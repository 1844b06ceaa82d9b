"""Every write about people: users, token login and logout, lockout."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.errors import Conflict, InvalidInput, TooManyRequests, Unauthorized

from .models import ApiToken, LoginAttempt, Role, User
from .tokens import USER_PREFIX, hash_token, new_token


def user_create(*, username: str, password: str, role: str, full_name: str = "", badge_number: str = "",
                email: str = "", actor=None, request=None) -> User:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}.", fields={"role": [f"Must be one of {', '.join(Role.values)}."]})
    user = User(username=username, role=role, full_name=full_name, badge_number=badge_number, email=email)
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"password": exc.messages}) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            audit_record(action="user.create", actor=actor, obj=user, request=request,
                         details={"username": username, "role": role})
    except IntegrityError:
        raise Conflict(f"A user named {username!r} already exists.", code="username_taken") from None
    return user


def login_lockout_remaining(*, username: str) -> int:
    """Seconds left on this username's lockout, 0 when it may try."""
    now = timezone.now()
    recent = list(
        LoginAttempt.objects.filter(username=username.lower(), at__gte=now - settings.RTCC_LOGIN_FAILURE_WINDOW
                                    - settings.RTCC_LOGIN_LOCKOUT)
        .order_by("at").values_list("at", "succeeded")
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


def login_check(*, username: str, password: str, otp: str | None = None, request=None) -> User:
    """Checks a person's credentials with lockout; every success and failure is audited."""
    username = (username or "").strip()
    source_ip = request.META.get("REMOTE_ADDR") if request is not None else None
    remaining = login_lockout_remaining(username=username)
    if remaining:
        audit_record(action="auth.login", outcome="locked", request=request, object_type="user",
                     object_id=username[:64], details={"username": username})
        raise TooManyRequests(
            "Too many failed logins for this user; try again later.", retry_after=remaining, code="locked_out"
        )
    user = authenticate(request=None, username=username, password=password)
    if user is None or not user.is_active:
        LoginAttempt.objects.create(username=username.lower(), succeeded=False, source_ip=source_ip)
        audit_record(action="auth.login", outcome="failure", request=request, object_type="user",
                     object_id=username[:64], details={"username": username})
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    LoginAttempt.objects.create(username=username.lower(), succeeded=True, source_ip=source_ip)
    audit_record(action="auth.login", actor=user, obj=user, request=request)
    return user


def token_issue(*, user: User, request=None, ttl: timedelta | None = None) -> tuple[str, ApiToken]:
    token = new_token(USER_PREFIX)
    record = ApiToken.objects.create(
        user=user,
        key_hash=hash_token(token),
        expires_at=timezone.now() + (ttl or settings.RTCC_TOKEN_TTL),
        source_ip=request.META.get("REMOTE_ADDR") if request is not None else None,
    )
    return token, record


def token_revoke(*, token: ApiToken, actor=None, request=None) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(action="auth.logout", actor=actor or token.user, obj=token.user, request=request,
                     details={"token": str(token.id)})
