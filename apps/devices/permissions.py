"""Device principals: endpoints an enrolled device may call (role-based classes are in
apps/accounts/permissions.py; AnyOf there combines the two)."""

from rest_framework.permissions import BasePermission

from .models import Device, DeviceKind


class IsDevice(BasePermission):
    message = "This endpoint is for enrolled devices."

    def has_permission(self, request, view):
        return isinstance(request.user, Device) and not request.user.revoked


class IsPhone(IsDevice):
    message = "This endpoint is for enrolled phones."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.kind == DeviceKind.PHONE


class IsOfficerPhone(IsPhone):
    """An enrolled, unrevoked phone assigned to an active officer: it reads as that officer (a
    deactivated officer's phone no longer reads or acknowledges their briefings, as their own
    token no longer does)."""

    message = "This endpoint is for officers and their phones."

    def has_permission(self, request, view):
        if not super().has_permission(request, view) or request.user.officer_id is None:
            return False
        officer = request.user.officer
        return officer is not None and officer.is_active


class IsBodycam(IsDevice):
    message = "This endpoint is for enrolled body-worn cameras."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.kind == DeviceKind.BODYCAM


class IsPlateReader(IsDevice):
    message = "This endpoint is for enrolled plate readers."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.kind == DeviceKind.ALPR


class IsRecordingDevice(IsDevice):
    """A device that records video (a camera or a phone): a plate reader uploads no clips."""

    message = "This endpoint is for enrolled cameras and phones."

    def has_permission(self, request, view):
        if isinstance(request.user, Device) and request.user.kind == DeviceKind.ALPR:
            self.message = "This endpoint is for enrolled cameras and phones; a plate reader records no video."
        return super().has_permission(request, view) and request.user.kind != DeviceKind.ALPR
