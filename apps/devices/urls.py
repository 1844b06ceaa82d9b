"""API routes of apps.devices (mounted under /api/v1/), exactly as PROTOCOL.md writes them."""

from django.urls import path

from . import apis

urlpatterns = [
    path("devices", apis.DevicesApi.as_view(), name="devices"),
    path("devices/<uuid:device_id>", apis.DeviceDetailApi.as_view(), name="device-detail"),
    path("devices/<uuid:device_id>/enrollment", apis.EnrollmentCodeApi.as_view(), name="device-enrollment"),
    path("devices/<uuid:device_id>/assign", apis.AssignApi.as_view(), name="device-assign"),
    path("devices/<uuid:device_id>/unassign", apis.UnassignApi.as_view(), name="device-unassign"),
    path("devices/<uuid:device_id>/assignments", apis.AssignmentsApi.as_view(), name="device-assignments"),
    path("devices/<uuid:device_id>/revoke", apis.RevokeApi.as_view(), name="device-revoke"),
    path("enroll", apis.EnrollApi.as_view(), name="enroll"),
    path("device", apis.DeviceSelfApi.as_view(), name="device-self"),
    path("device/push-token", apis.PushTokenApi.as_view(), name="device-push-token"),
]
