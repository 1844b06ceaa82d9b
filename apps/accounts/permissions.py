"""Role checks for the API. Every view names the roles it admits; devices are not people."""

from __future__ import annotations

from rest_framework.permissions import BasePermission


def is_person(user) -> bool:
    return bool(user and user.is_authenticated and hasattr(user, "has_role"))


def role_of(user) -> str | None:
    return user.effective_role if is_person(user) else None


def HasRole(*roles: str) -> type[BasePermission]:  # noqa: N802 - reads like a class in permission_classes
    """Permission class admitting authenticated people with one of these roles."""

    class _HasRole(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view):
            return is_person(request.user) and request.user.has_role(*roles)

    _HasRole.__name__ = "HasRole_" + "_".join(roles)
    return _HasRole


class IsPerson(BasePermission):
    message = "This endpoint is for people, not devices."

    def has_permission(self, request, view):
        return is_person(request.user) and request.user.is_active
