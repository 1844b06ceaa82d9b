"""Input and output shapes of the live view API (the output is also the console's live.update)."""

from __future__ import annotations

from rest_framework import serializers

from .conf import REASON_MAX
from .models import LiveSession, LiveState, LiveViewer


class LiveRequestIn(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX, allow_blank=False, trim_whitespace=True)


class LiveFilterIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=LiveState.choices, required=False)
    device = serializers.UUIDField(required=False)


def viewer_data(viewer: LiveViewer) -> dict:
    user = viewer.user
    return {
        "user": str(viewer.user_id),
        "username": user.get_username(),
        "full_name": user.full_name,
        "first_viewed_at": _iso(viewer.first_viewed_at),
        "last_viewed_at": _iso(viewer.last_viewed_at),
    }


def _iso(value):
    return value.isoformat() if value is not None else None


def live_data(session: LiveSession, *, viewers: list[LiveViewer] | None = None) -> dict:
    """The contract's live session (PROTOCOL "Live view"), plus a few fields for the console."""
    if viewers is None:
        viewers = list(session.viewers.select_related("user").order_by("first_viewed_at"))
    device = session.device
    return {
        "id": str(session.id),
        "device": str(session.device_id),
        "officer": str(session.officer_id) if session.officer_id else None,
        "state": session.state,
        "reason": session.reason,
        "requested_by": str(session.requested_by_id),
        "created_at": _iso(session.created_at),
        "started_at": _iso(session.started_at),
        "ended_at": _iso(session.ended_at),
        "playlist_url": session.playlist_url,
        "viewers": [viewer_data(v) for v in viewers],
        # Extensions (free to add): when it ends by itself, why it ended, names for the console.
        "expires_at": _iso(session.expires_at),
        "end_reason": session.end_reason or None,
        "segment_seconds": session.segment_seconds,
        "device_label": device.label or device.serial,
        "requested_by_name": session.requested_by.full_name or session.requested_by.get_username(),
    }


class LiveViewerOut(serializers.Serializer):
    user = serializers.CharField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    first_viewed_at = serializers.DateTimeField()
    last_viewed_at = serializers.DateTimeField()


class LiveOut(serializers.Serializer):
    """For the schema; responses are built by live_data()."""

    id = serializers.CharField()
    device = serializers.CharField()
    officer = serializers.CharField(allow_null=True)
    state = serializers.ChoiceField(choices=LiveState.choices)
    reason = serializers.CharField()
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    playlist_url = serializers.CharField()
    viewers = LiveViewerOut(many=True)
    expires_at = serializers.DateTimeField()
    end_reason = serializers.CharField(allow_null=True)
    segment_seconds = serializers.IntegerField()
    device_label = serializers.CharField()
    requested_by_name = serializers.CharField()


class SegmentOut(serializers.Serializer):
    name = serializers.CharField()
    sequence = serializers.IntegerField(allow_null=True)
    duration = serializers.FloatField(allow_null=True)
    size = serializers.IntegerField()
    stored_at = serializers.DateTimeField()
