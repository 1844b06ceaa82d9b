"""Who may command cameras (operators, and superusers) and who may read commands (operators and IT)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from apps.accounts.permissions import is_person


class CanCommand(BasePermission):
    message = "Only operators may command cameras."

    def has_permission(self, request, view):
        user = request.user
        return is_person(user) and user.is_active and (user.is_superuser or user.has_role("operator"))


class CanReadCommands(BasePermission):
    message = "Only operators and IT may see commands."

    def has_permission(self, request, view):
        return is_person(request.user) and request.user.has_role("operator", "it")
