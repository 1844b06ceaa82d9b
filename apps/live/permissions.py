"""Who may watch: operators only (clerks, IT, officers and superusers, who act as IT, may not)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from apps.accounts.permissions import is_person


class CanWatch(BasePermission):
    message = "Only operators may use live view."

    def has_permission(self, request, view):
        return is_person(request.user) and request.user.has_role("operator")
