"""Every write about people: users, token login and logout, lockout, the second factor.

Each takes an AuditContext (who acts, from which address) and audits in its own transaction."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.audit.services import AuditContext, audit_record
from apps.core.errors import Conflict, Forbidden, InvalidInput, TooManyRequests, Unauthorized
from apps.core.realtime import close_credential_sockets_after_commit, close_person_sockets_after_commit

from . import mfa
from .authentication import credentials_changed
from .models import ApiToken, LoginAttempt, Role, User
from .selectors import login_lockout_remaining
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
    context: AuditContext | None = None,
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
                context=context,
                details={"username": username, "role": role},
            )
    except IntegrityError:
        raise Conflict(f"A user named {username!r} already exists.", code="username_taken") from None
    return user


def _superuser_changed_by_superuser(user: User, actor) -> None:
    """IT manages people; a superuser is above that (its password would hand IT the admin)."""
    if user.is_superuser and not getattr(actor, "is_superuser", False):
        raise Forbidden("Only a superuser may change a superuser.")


def credentials_end(user: User) -> None:
    """A new password or a deactivation: every token of the person stops working at once, and so do
    their console sessions and evidence links (credentials_version), for good; their open sockets
    close with 4401 after the commit (inside the caller's transaction)."""
    # The version first: its row lock makes a token being issued at this moment (token_issue, which
    # checks the version under that lock) commit before the revocation below reads the tokens.
    User.objects.filter(pk=user.pk).update(credentials_version=F("credentials_version") + 1)
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    user.refresh_from_db(fields=["credentials_version"])
    credentials_changed()
    close_person_sockets_after_commit(user.pk)


def password_was_set(user: User) -> None:
    """After any save of a new password (User.save): the person's credentials end at once; one
    set outside user_update (which audits its own change) is audited here, by the system."""
    with transaction.atomic():
        credentials_end(user)
        if not getattr(user, "_password_audited", False):
            audit_record(
                action="user.password_set",
                obj=user,
                details={"via": "outside the API (manage.py changepassword, the admin or a shell)"},
            )
    user._password_audited = False


def user_update(*, user: User, actor, context: AuditContext | None = None, **changes) -> User:
    """IT changes a person: role, name, badge, password, or active. Deactivating revokes every
    token at once (sessions end too: inactive users no longer authenticate).

    The person is read again under a row lock: the save writes every field, and one read before
    another IT user's change committed wrote it back (a rename at the moment of a deactivation
    made the account active again, its credentials' version with it, and audited no change)."""
    with transaction.atomic():
        user.refresh_from_db(from_queryset=User.objects.select_for_update())
        return _user_change(user=user, actor=actor, context=context, **changes)


def _user_change(*, user: User, actor, context: AuditContext | None, **changes) -> User:
    if actor.pk == user.pk and (
        changes.get("is_active") is False or ("role" in changes and changes["role"] != user.effective_role)
    ):
        raise Conflict("You cannot deactivate yourself or change your own role.", code="self_change")
    _superuser_changed_by_superuser(user, actor)
    if user.is_superuser and changes.get("role", Role.IT) != Role.IT:
        # A superuser acts as IT whatever its stored role: the change would answer 200 and do nothing.
        raise Conflict(
            "A superuser acts as it whatever its role; take the superuser status away in the admin first.",
            code="superuser_role",
            fields={"role": ["A superuser's role is it."]},
        )
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
        user._password_audited = True  # in this change's own user.update event
    for field, value in changes.items():
        setattr(user, field, value)
    with transaction.atomic():
        user._changed_by = (actor, context)
        try:
            user.save()
        finally:
            user._changed_by = None
        if changes.get("is_active") is False:  # a new password's end came with its save (User.save)
            credentials_end(user)
        if before["role"] != user.role:  # the old role's evidence links end, for good (footage.grants)
            User.objects.filter(pk=user.pk).update(role_version=F("role_version") + 1)
            user.refresh_from_db(fields=["role_version"])
            if changes.get("is_active") is not False:
                close_person_sockets_after_commit(user.pk, code=4403)  # signed in, no longer allowed this socket
        after = {key: getattr(user, key) for key in before}
        audit_record(
            action="user.update",
            actor=actor,
            obj=user,
            context=context,
            details={
                "changed": sorted(
                    [k for k in before if before[k] != after[k]] + (["password"] if password is not None else [])
                ),
                "before": before,
                "after": after,
            },
        )
    return user


def mfa_reset(*, user: User, actor, context: AuditContext | None = None) -> None:
    """IT turns off a person's second factor (a lost phone); they set it up again."""
    _superuser_changed_by_superuser(user, actor)
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(mfa_enabled=False, totp_secret_sealed="", totp_last_step=0)
        credentials_changed()
        audit_record(action="auth.mfa_reset", actor=actor, obj=user, context=context)


def login_check(*, username: str, password: str, otp: str | None = None, context: AuditContext | None = None) -> User:
    """Checks a person's credentials with lockout; every success and failure is audited."""
    context = context or AuditContext()
    username = (username or "").strip()
    remaining = login_lockout_remaining(username=username, source_ip=context.source_ip)
    if remaining:
        audit_record(
            action="auth.login",
            outcome="locked",
            context=context,
            object_type="user",
            object_id=username[:64],
            details={"username": username},
        )
        minutes = max(1, -(-remaining // 60))
        raise TooManyRequests(
            f"Too many failed logins: try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=remaining,
            code="locked_out",
        )
    user = authenticate(request=None, username=username, password=password)
    if user is None or not user.is_active:
        _login_failed(username, context, "password")
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    if user.mfa_enabled:
        if not otp:
            raise Unauthorized("This account needs a one-time code (otp).", code="otp_required")
        if not mfa_consume(user=user, otp=otp):
            _login_failed(username, context, "otp")
            raise Unauthorized("The one-time code is wrong or was already used.", code="invalid_otp")
    with transaction.atomic():
        LoginAttempt.objects.create(username=username.lower(), succeeded=True, source_ip=context.source_ip)
        audit_record(action="auth.login", actor=user, obj=user, context=context)
    return user


def _login_failed(username: str, context: AuditContext, factor: str) -> None:
    with transaction.atomic():
        LoginAttempt.objects.create(username=username.lower(), succeeded=False, source_ip=context.source_ip)
        audit_record(
            action="auth.login",
            outcome="failure",
            context=context,
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


def mfa_begin(*, user: User, context: AuditContext | None = None) -> tuple[str, str]:
    """A new secret for the user's authenticator app; active once confirmed with a code."""
    if user.mfa_enabled:
        raise Conflict("A second factor is already set up; turn it off first.", code="mfa_enabled")
    secret = mfa.new_secret()
    user.totp_secret_sealed = mfa.seal(secret)
    user.totp_last_step = 0
    user.save(update_fields=["totp_secret_sealed", "totp_last_step"])
    return secret, mfa.provisioning_uri(secret, user.username)


def mfa_confirm(*, user: User, otp: str, context: AuditContext | None = None) -> None:
    if user.mfa_enabled:
        raise Conflict("The second factor is already on.", code="mfa_enabled")
    if not user.totp_secret_sealed or not mfa_consume(user=user, otp=otp):
        raise InvalidInput("The one-time code is wrong.", fields={"otp": ["Wrong or expired code."]})
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(mfa_enabled=True)
        credentials_changed()
        audit_record(action="auth.mfa_enabled", actor=user, obj=user, context=context)


def mfa_disable(*, user: User, otp: str, context: AuditContext | None = None) -> None:
    if not user.mfa_enabled:
        raise Conflict("The second factor is not on.", code="mfa_disabled")
    if not mfa_consume(user=user, otp=otp):
        raise InvalidInput("The one-time code is wrong.", fields={"otp": ["Wrong or expired code."]})
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(mfa_enabled=False, totp_secret_sealed="")
        credentials_changed()
        audit_record(action="auth.mfa_disabled", actor=user, obj=user, context=context)


def token_issue(
    *, user: User, context: AuditContext | None = None, ttl: timedelta | None = None
) -> tuple[str, ApiToken]:
    """A new API token for the user (only its hash is kept), audited with its id and expiry.

    Only while the credentials it was asked with still stand, checked under the person's row lock:
    a login whose password was checked as IT reset it (or deactivated the person) got a token
    after credentials_end had revoked theirs, and the old password kept working for 12 hours."""
    source_ip = context.source_ip if context is not None else None
    token = new_token(USER_PREFIX)
    try:
        with transaction.atomic():
            _refuse_unless_credentials_stand(user)
            record = ApiToken.objects.create(
                user=user,
                key_hash=hash_token(token),
                expires_at=timezone.now() + (ttl or settings.RTCC_TOKEN_TTL),
                source_ip=source_ip,
            )
            audit_record(
                action="auth.token_issue",
                actor=user,
                obj=user,
                context=context,
                details={"token": str(record.id), "expires_at": record.expires_at.isoformat()},
            )
    except Unauthorized:
        # The login before it was audited a success: the trail says why no token followed.
        audit_record(
            action="auth.token_issue",
            outcome="failure",
            actor=user,
            obj=user,
            context=context,
            details={"reason": "credentials changed during the login"},
        )
        raise
    return token, record


def _refuse_unless_credentials_stand(user: User) -> None:
    """401, as for a wrong password, when the person's credentials' version (a new password, a
    deactivation: credentials_end) is no longer the one `user` was read with, or they are inactive.
    The row stays locked until the caller commits: credentials_end, which bumps the version first,
    waits for the new token and then revokes it with the others."""
    now = User.objects.select_for_update().filter(pk=user.pk).values_list("credentials_version", "is_active").first()
    if now != (user.credentials_version, True):
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")


def token_revoke(*, token: ApiToken, actor=None, context: AuditContext | None = None) -> None:
    if token.revoked_at is None:
        with transaction.atomic():
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            close_credential_sockets_after_commit(str(token.pk))
            audit_record(
                action="auth.logout",
                actor=actor or token.user,
                obj=token.user,
                context=context,
                details={"token": str(token.id)},
            )


# Housekeeping ----------------------------------------------------------------------------------

PRUNE_BATCH = 1000  # rows per delete statement: a short transaction each, never a long lock
PRUNE_MAX_BATCHES = 100  # per run; what is left goes at the next run


def _delete_in_batches(rows, *, raw: bool = False) -> int:
    """Deletes these rows PRUNE_BATCH at a time, each batch its own short statement (autocommit);
    returns how many went. `raw`: no signals (a token that ended needs no cache to be told)."""
    total = 0
    for _ in range(PRUNE_MAX_BATCHES):
        ids = list(rows.values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            break
        batch = rows.model.objects.filter(pk__in=ids)
        total += batch._raw_delete(batch.db) if raw else batch.delete()[0]
        if len(ids) < PRUNE_BATCH:
            break
    return total


def tokens_prune(*, now=None) -> int:
    """Deletes API tokens that expired or were revoked more than RTCC_TOKEN_KEEP_ENDED ago;
    returns how many. Such a token authenticates nothing (the cache never serves it: it was
    revoked under an older generation, or is checked for expiry on each use), no row refers to it,
    and the audit events that name it (auth.token_issue, auth.logout) keep its id and stay as
    they are: only the dead row goes, so the table does not grow with every login for ever."""
    cutoff = (now or timezone.now()) - settings.RTCC_TOKEN_KEEP_ENDED
    ended = ApiToken.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff))
    return _delete_in_batches(ended, raw=True)


def login_attempts_prune(*, now=None) -> int:
    """Deletes login attempts the lockout can no longer count (it looks back
    RTCC_LOGIN_FAILURE_WINDOW + RTCC_LOGIN_LOCKOUT), after RTCC_LOGIN_ATTEMPT_KEEP_MARGIN more;
    returns how many. Each login, failed or not, is in the audit trail as well."""
    keep = settings.RTCC_LOGIN_FAILURE_WINDOW + settings.RTCC_LOGIN_LOCKOUT + settings.RTCC_LOGIN_ATTEMPT_KEEP_MARGIN
    return _delete_in_batches(LoginAttempt.objects.filter(at__lt=(now or timezone.now()) - keep))
