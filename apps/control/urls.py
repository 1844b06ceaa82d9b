"""API routes of apps.control (mounted under /api/v1/)."""

from django.urls import path

from apps.core.asyncviews import one_hop

from . import apis

# Creating and cancelling a command: the view in one hop to a thread, then the command sent to its
# device's group from the event loop right after commit (apps/core/asyncviews.py).
urlpatterns = [
    path("devices/<uuid:device_id>/commands", one_hop(apis.DeviceCommandsApi.as_view()), name="device-commands"),
    path("commands/<uuid:command_id>", apis.CommandApi.as_view(), name="command"),
    path("commands/<uuid:command_id>/cancel", one_hop(apis.CommandCancelApi.as_view()), name="command-cancel"),
]
