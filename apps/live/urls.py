"""API routes of apps.live (mounted under /api/v1/)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("devices/<uuid:device_id>/live", apis.DeviceLiveApi.as_view(), name="device-live"),
    path("live", apis.LiveListApi.as_view(), name="live-list"),
    path("live/<uuid:live_id>", apis.LiveApi.as_view(), name="live"),
    path("live/<uuid:live_id>/stop", apis.LiveStopApi.as_view(), name="live-stop"),
    path("live/<uuid:live_id>/playlist.m3u8", apis.LivePlaylistApi.as_view(), name="live-playlist"),
    path("live/<uuid:live_id>/segments/<str:name>", apis.segment, name="live-segment"),
]
