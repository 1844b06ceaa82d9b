"""Users with one role each, API tokens (stored hashed), and login attempts for lockout."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac


class Role(models.TextChoices):
    OFFICER = "officer", "Officer"
    OPERATOR = "operator", "Operator"
    CLERK = "clerk", "Records clerk"
    IT = "it", "IT administrator"


class RtccUserManager(UserManager["User"]):
    def get_by_natural_key(self, username):
        # Names are one name whatever their case (the constraint below), so a login is too:
        # `DOrtiz` signs in as `dortiz`, at most one user can match.
        return self.alias(name_lower=Lower(self.model.USERNAME_FIELD)).get(name_lower=str(username).lower())

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # A superuser acts as IT; store that too, so lists filtered by role agree.
        extra_fields.setdefault("role", Role.IT)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OFFICER)
    full_name = models.CharField(max_length=150, blank=True)
    badge_number = models.CharField(max_length=32, blank=True)
    # TOTP second factor: the secret sealed with a key derived from SECRET_KEY (apps.accounts.mfa).
    totp_secret_sealed = models.TextField(blank=True)
    mfa_enabled = models.BooleanField(default=False)
    totp_last_step = models.BigIntegerField(default=0)
    # Counted up each time the person's credentials end (deactivated, a new password): their
    # console sessions and evidence links carry the number they were made with, and stop for good,
    # even after the account is reactivated.
    # db_default: the previous release's code, still serving during a rolling upgrade or after a
    # rollback, inserts people without this column.
    credentials_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    # Counted up each time the person is given another role: their evidence links carry it too, so
    # that a link stops for good when the role it was issued under is taken away, even if it is given
    # back later (their sessions and tokens go on, under the new role).
    role_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    # Set by services.user_update when its own audit event records the new password.
    _password_audited = False
    # (actor, AuditContext) of the change being saved, set by services.user_update: what another
    # app does on the change (a role change hands an officer's devices back) is theirs too.
    _changed_by: tuple | None = None

    objects: ClassVar[RtccUserManager] = RtccUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta(AbstractUser.Meta):
        constraints = [
            # `dortiz` and `DOrtiz` would be two people to the login, but one to the lockout (keyed
            # case-blind) and to anyone reading a name: one of them is username_taken.
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_case_blind"),
        ]

    def save(self, *args, **kwargs):
        # A new password however it was set (IT's reset through the API, `manage.py changepassword`,
        # the admin, a shell) ends the person's tokens, sessions and links, and is audited.
        new_password = getattr(self, "_password", None) is not None and not self._state.adding
        super().save(*args, **kwargs)
        if new_password:
            from .services import password_was_set

            password_was_set(self)

    def _get_session_auth_hash(self, secret=None):
        """Django's hash of the password that a session keeps, with the credentials' version: a
        session stops when they end, not only when the password changes (version 0: Django's own)."""
        if not self.credentials_version:
            return super()._get_session_auth_hash(secret=secret)  # type: ignore[misc]  # private in the stubs
        key_salt = "apps.accounts.models.User.get_session_auth_hash"
        value = f"{self.password}:{self.credentials_version}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def effective_role(self) -> str:
        """A Django superuser acts as IT, whatever its stored role."""
        return Role.IT if self.is_superuser else self.role

    def has_role(self, *roles: str) -> bool:
        return self.is_active and self.effective_role in roles

    def __str__(self) -> str:
        return self.full_name or self.username


class ApiToken(models.Model):
    """A bearer token for a person. Only its SHA-256 is stored; the token is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class LoginAttempt(models.Model):
    username = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)
    succeeded = models.BooleanField()
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["username", "at"], name="login_attempt_user_at"),
            models.Index(fields=["source_ip", "at"], name="login_attempt_ip_at"),
        ]
