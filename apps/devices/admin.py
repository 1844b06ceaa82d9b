"""Django admin pages for IT: the device registry and the assignment history.

Writes that matter (registration, enrollment codes, assignment, revocation) go through the
services, so they are audited exactly like the API's; credentials are never editable here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from apps.audit.services import AuditContext

from . import services
from .models import Assignment, Device, EnrollmentFailure


class AssignmentInline(admin.TabularInline):
    model = Assignment
    fk_name = "device"
    extra = 0
    fields = ("officer", "started_at", "ended_at", "assigned_by", "ended_by")
    readonly_fields = fields
    can_delete = False
    ordering = ("-started_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = (
        "serial",
        "kind",
        "label",
        "model",
        "officer",
        "online",
        "last_seen",
        "battery_pct",
        "recording",
        "enrolled_at",
        "revoked_at",
    )
    list_filter = ("kind", "online", "recording", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("serial", "label", "model", "officer__username", "officer__full_name")
    ordering = ("kind", "serial")
    inlines = [AssignmentInline]
    actions = ["issue_enrollment_code", "revoke_devices", "unassign_devices"]
    # What the device reports, its credentials' dates and its assignment change only through
    # the services and the device itself: shown, never edited here.
    readonly_fields = (
        "officer",
        "created_at",
        "enrolled_at",
        "enrollment_expires_at",
        "revoked_at",
        "replaces",
        "online",
        "last_seen",
        "recording",
        "battery_pct",
        "storage_free_mb",
        "lat",
        "lon",
        "accuracy_m",
        "location_at",
        "push_token_updated_at",
    )
    fields = ("kind", "serial", "model", "label", "firmware", *readonly_fields)

    def get_inlines(self, request, obj=None):
        return self.inlines if obj else []  # a new device has no history yet

    def get_readonly_fields(self, request, obj=None):
        # kind and serial identify a device once it exists
        return (*self.readonly_fields, "kind", "serial") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        device, code = services.device_register(
            kind=obj.kind,
            serial=obj.serial,
            model=obj.model,
            label=obj.label,
            firmware=obj.firmware,
            actor=request.user,
            context=AuditContext.of(request),
        )
        obj.pk = device.pk
        obj._state.adding = False
        messages.warning(
            request,
            f"Enrollment code for {device.serial}: {code} (shown once; valid until "
            f"{device.enrollment_expires_at:%Y-%m-%d %H:%M} UTC).",
        )

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the history of a device is evidence

    @admin.action(description="Issue a fresh enrollment code")
    def issue_enrollment_code(self, request, queryset):
        for device in queryset:
            if device.revoked:
                messages.error(request, f"{device.serial} is revoked.")
                continue
            code = services.enrollment_reissue(device=device, actor=request.user, context=AuditContext.of(request))
            messages.warning(request, f"Enrollment code for {device.serial}: {code} (shown once).")

    @admin.action(description="Revoke (token stops working, socket closed)")
    def revoke_devices(self, request, queryset):
        with transaction.atomic():
            for device in queryset:
                services.device_revoke(
                    device=device, actor=request.user, context=AuditContext.of(request), reason="admin"
                )
        messages.success(request, f"Revoked {queryset.count()} device(s).")

    @admin.action(description="Unassign from their officer")
    def unassign_devices(self, request, queryset):
        for device in queryset:
            services.device_unassign(device=device, actor=request.user, context=AuditContext.of(request))
        messages.success(request, "Unassigned.")


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("device", "officer", "started_at", "ended_at", "assigned_by", "ended_by")
    list_filter = (("ended_at", admin.EmptyFieldListFilter),)
    search_fields = ("device__serial", "officer__username", "officer__full_name")
    ordering = ("-started_at",)
    readonly_fields = ("device", "officer", "started_at", "ended_at", "assigned_by", "ended_by")

    def has_add_permission(self, request):
        return False  # assign through the API or the console: one open assignment, audited

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EnrollmentFailure)
class EnrollmentFailureAdmin(admin.ModelAdmin):
    list_display = ("at", "serial", "source_ip")
    search_fields = ("serial", "source_ip")
    ordering = ("-at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
