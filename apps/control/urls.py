"""API routes of apps.control (mounted under /api/v1/)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("devices/<uuid:device_id>/commands", apis.DeviceCommandsApi.as_view(), name="device-commands"),
    path("commands/<uuid:command_id>", apis.CommandApi.as_view(), name="command"),
    path("commands/<uuid:command_id>/cancel", apis.CommandCancelApi.as_view(), name="command-cancel"),
]
