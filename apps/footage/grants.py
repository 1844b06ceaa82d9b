"""Who an evidence link was issued to, signed into the link (storage.signed_get_path's `grantee`):
the person, the role they had and their credentials' version. The link stops when any of them
changes: the person deactivated (even if reactivated since), given another role (IT never sees
footage, an operator never gets the bytes) or given a new password."""

from __future__ import annotations

from typing import NamedTuple

from apps.accounts.models import User


class Grant(NamedTuple):
    user_id: str
    role: str | None  # None: a link issued before roles were signed in (it expires within the hour)
    version: int | None


def grant_for(user: User) -> str:
    return f"{user.pk}:{user.effective_role}:{user.credentials_version}"


def grant_of(grantee: str) -> Grant:
    user_id, _, rest = grantee.partition(":")
    role, _, version = rest.partition(":")
    return Grant(user_id, role or None, int(version) if version.isdigit() else None)


def grant_holds(grantee: str) -> bool:
    """Whether the person the link was issued to may still use it."""
    grant = grant_of(grantee)
    user = User.objects.filter(pk=grant.user_id, is_active=True).first()
    if user is None:
        return False
    if grant.role is not None and user.effective_role != grant.role:
        return False
    return grant.version is None or user.credentials_version == grant.version
