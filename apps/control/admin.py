"""Django admin: recording commands, read-only (they change only through the API and the devices)."""

from __future__ import annotations

from django.contrib import admin

from .models import Command


@admin.register(Command)
class CommandAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "device", "requested_by", "state", "send_count", "finished_at")
    list_filter = ("state", "action")
    search_fields = ("id", "device__serial", "device__label", "requested_by__username", "reason")
    ordering = ("-created_at",)
    list_select_related = ("device", "requested_by")
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
