"""Who may call what: every role-based permission class, in one place.

A view names the roles it admits in `permission_classes` (or, when its methods differ,
`permissions_by_method` with the PermissionsByMethod mixin). Device principals (an enrolled
camera or phone) have their classes in apps/devices/permissions.py; AnyOf combines the two
kinds and keeps a message a person can read."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from .models import Role


def is_person(user) -> bool:
    return bool(user and user.is_authenticated and hasattr(user, "has_role"))


def role_of(user) -> str | None:
    return user.effective_role if is_person(user) else None


def HasRole(  # noqa: N802 - reads like a class in permission_classes
    *roles: str, superuser: bool = False, message: str = "Your role does not allow this."
) -> type[BasePermission]:
    """Permission class admitting active people with one of these roles (and superusers if asked)."""

    class _HasRole(BasePermission):
        message: str

        def has_permission(self, request, view):
            user = request.user
            return is_person(user) and (user.has_role(*roles) or (superuser and user.is_active and user.is_superuser))

    _HasRole.message = message
    _HasRole.__name__ = "HasRole_" + "_".join(roles)
    return _HasRole


def AnyOf(*classes: type[BasePermission], message: str) -> type[BasePermission]:  # noqa: N802
    """Permission class admitting whoever one of these admits, refusing with `message`."""

    class _AnyOf(BasePermission):
        message: str

        def has_permission(self, request, view):
            return any(cls().has_permission(request, view) for cls in classes)

    _AnyOf.message = message
    _AnyOf.__name__ = "AnyOf_" + "_".join(cls.__name__ for cls in classes)
    return _AnyOf


class IsPerson(BasePermission):
    message = "This endpoint is for people, not devices."

    def has_permission(self, request, view):
        return is_person(request.user) and request.user.is_active


IsOfficer = HasRole(Role.OFFICER)
IsOperator = HasRole(Role.OPERATOR)
IsClerk = HasRole(Role.CLERK)
IsIT = HasRole(Role.IT)
# Commanding a camera: operators, and superusers (who otherwise act as IT).
# A superuser acts as IT, and IT manages devices, not operations: commands are operators' alone.
COMMAND_ROLES = (Role.OPERATOR.value,)
CanCommand = HasRole(*COMMAND_ROLES, message="Only operators may command cameras.")
CanReadCommands = HasRole(Role.OPERATOR, message="Only operators may see commands.")
# Live view: operators only (clerks, IT, officers, and superusers, who act as IT, may not watch).
CanWatchLive = HasRole(Role.OPERATOR, message="Only operators may use live view.")


class PermissionsByMethod(APIView):
    # A view whose methods admit different roles: `permissions_by_method = {"GET": [IsPerson],
    # "POST": [IsClerk]}`; a method not named there admits whoever `permission_classes` admits.
    # (A comment, not a docstring: drf-spectacular describes each operation with the first
    # docstring in its view's classes, and this one told the schema's readers that clerks send
    # commands.)

    permissions_by_method: dict[str, list[type[BasePermission]]] = {}

    def get_permissions(self) -> list[Any]:
        classes = self.permissions_by_method.get(self.request.method or "", self.permission_classes)
        return [permission() for permission in classes]
