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
from apps.core.realtime import close_person_sockets_after_commit

from . import mfa
from .models import ApiToken, LoginAttempt, Role, User
from .tokens import USER_PREFIX, hash_token, new_token


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    full_name: str = "",
    badge_number: str = "",
    email: str = "",
    actor=None,
    request=None,
) -> User:
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
            audit_record(
                action="user.create",
                actor=actor,
                obj=user,
                request=request,
                details={"username": username, "role": role},
            )
    except IntegrityError:
        raise Conflict(f"A user named {username!r} already exists.", code="username_taken") from None
    return user


def user_update(*, user: User, actor, request=None, **changes) -> User:
    """IT changes a person: role, name, badge, password, or active. Deactivating revokes every
    token at once (sessions end too: inactive users no longer authenticate)."""
    if actor.pk == user.pk and (
        changes.get("is_active") is False or ("role" in changes and changes["role"] != user.effective_role)
    ):
        raise Conflict("You cannot deactivate yourself or change your own role.", code="self_change")
    before = {
        "role": user.role,
        "full_name": user.full_name,
        "badge_number": user.badge_number,
        "is_active": user.is_active,
    }
    password = changes.pop("password", None)
    if password is not None:
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            raise InvalidInput(exc.messages[0], fields={"password": exc.messages}) from None
        user.set_password(password)
    for field, value in changes.items():
        setattr(user, field, value)
    with transaction.atomic():
        user.save()
        if changes.get("is_active") is False or password is not None:
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if changes.get("is_active") is False or before["role"] != user.role:
            close_person_sockets_after_commit(user.pk)
        after = {key: getattr(user, key) for key in before}
        audit_record(
            action="user.update",
            actor=actor,
            obj=user,
            request=request,
            details={
                "changed": sorted(
                    [k for k in before if before[k] != after[k]] + (["password"] if password is not None else [])
                ),
                "before": before,
                "after": after,
            },
        )
    return user


def mfa_reset(*, user: User, actor, request=None) -> None:
    """IT turns off a person's second factor (a lost phone); they set it up again."""
    User.objects.filter(pk=user.pk).update(mfa_enabled=False, totp_secret_sealed="", totp_last_step=0)
    audit_record(action="auth.mfa_reset", actor=actor, obj=user, request=request)


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


def login_check(*, username: str, password: str, otp: str | None = None, request=None) -> User:
    """Checks a person's credentials with lockout; every success and failure is audited."""
    username = (username or "").strip()
    source_ip = request.META.get("REMOTE_ADDR") if request is not None else None
    remaining = login_lockout_remaining(username=username, source_ip=source_ip)
    if remaining:
        audit_record(
            action="auth.login",
            outcome="locked",
            request=request,
            object_type="user",
            object_id=username[:64],
            details={"username": username},
        )
        raise TooManyRequests("Too many failed logins; try again later.", retry_after=remaining, code="locked_out")
    user = authenticate(request=None, username=username, password=password)
    if user is None or not user.is_active:
        _login_failed(username, source_ip, request, "password")
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    if user.mfa_enabled:
        if not otp:
            raise Unauthorized("This account needs a one-time code (otp).", code="otp_required")
        if not mfa_consume(user=user, otp=otp):
            _login_failed(username, source_ip, request, "otp")
            raise Unauthorized("The one-time code is wrong or was already used.", code="invalid_otp")
    LoginAttempt.objects.create(username=username.lower(), succeeded=True, source_ip=source_ip)
    audit_record(action="auth.login", actor=user, obj=user, request=request)
    return user


def _login_failed(username: str, source_ip: str | None, request, factor: str) -> None:
    LoginAttempt.objects.create(username=username.lower(), succeeded=False, source_ip=source_ip)
    audit_record(
        action="auth.login",
        outcome="failure",
        request=request,
        object_type="user",
        object_id=username[:64],
        details={"username": username, "factor": factor},
    )


def mfa_consume(*, user: User, otp: str) -> bool:
    """True when the code is right for this user and not used before (replays are refused)."""
    secret = mfa.unseal(user.totp_secret_sealed) if user.totp_secret_sealed else None
    step = mfa.matching_step(secret, otp) if secret else None
    if step is None:
        return False
    # Conditional update: two logins racing with the same code cannot both succeed.
    return User.objects.filter(pk=user.pk, totp_last_step__lt=step).update(totp_last_step=step) == 1


def mfa_begin(*, user: User, request=None) -> tuple[str, str]:
    """A new secret for the user's authenticator app; active once confirmed with a code."""
    if user.mfa_enabled:
        raise Conflict("A second factor is already set up; turn it off first.", code="mfa_enabled")
    secret = mfa.new_secret()
    user.totp_secret_sealed = mfa.seal(secret)
    user.totp_last_step = 0
    user.save(update_fields=["totp_secret_sealed", "totp_last_step"])
    return secret, mfa.provisioning_uri(secret, user.username)


def mfa_confirm(*, user: User, otp: str, request=None) -> None:
    if user.mfa_enabled:
        raise Conflict("The second factor is already on.", code="mfa_enabled")
    if not user.totp_secret_sealed or not mfa_consume(user=user, otp=otp):
        raise InvalidInput("The one-time code is wrong.", fields={"otp": ["Wrong or expired code."]})
    User.objects.filter(pk=user.pk).update(mfa_enabled=True)
    audit_record(action="auth.mfa_enabled", actor=user, obj=user, request=request)


def mfa_disable(*, user: User, otp: str, request=None) -> None:
    if not user.mfa_enabled:
        raise Conflict("The second factor is not on.", code="mfa_disabled")
    if not mfa_consume(user=user, otp=otp):
        raise InvalidInput("The one-time code is wrong.", fields={"otp": ["Wrong or expired code."]})
    User.objects.filter(pk=user.pk).update(mfa_enabled=False, totp_secret_sealed="")
    audit_record(action="auth.mfa_disabled", actor=user, obj=user, request=request)


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
        audit_record(
            action="auth.logout",
            actor=actor or token.user,
            obj=token.user,
            request=request,
            details={"token": str(token.id)},
        )
