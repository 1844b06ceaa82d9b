"""Who may command cameras and read commands: operators only (a superuser acts as IT, and IT
manages devices, not operations)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from apps.accounts.permissions import is_person


class CanCommand(BasePermission):
    message = "Only operators may command cameras."

    def has_permission(self, request, view):
        user = request.user
        return is_person(user) and user.has_role("operator")


class CanReadCommands(BasePermission):
    message = "Only operators may see commands."

    def has_permission(self, request, view):
        return is_person(request.user) and request.user.has_role("operator")
