"""What an evidence link checks of the person it was issued to, signed into the link beside their
id (storage.signed_get_path's `grant`): the role they had, its version and their credentials' version. The
link stops when either changes: the person deactivated (even if reactivated since), given another
role (IT never sees footage, an operator never gets the bytes; given back later, the role has a new
version) or given a new password."""

from __future__ import annotations

from apps.accounts.models import User


def grant_for(user: User) -> str:
    return f"{user.effective_role}:{user.credentials_version}:{user.role_version}"


def grant_holds(user_id: str, grant: str | None) -> bool:
    """Whether the person the link was issued to may still use it (a link signed before grants
    were: only whether they are active; it expires within the hour)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    if grant is None:
        return True
    role, _, versions = grant.partition(":")
    credentials, _, role_version = versions.partition(":")  # no role version: a link of the release before
    return (
        user.effective_role == role
        and credentials.isdigit()
        and user.credentials_version == int(credentials)
        and (not role_version or (role_version.isdigit() and user.role_version == int(role_version)))
    )
