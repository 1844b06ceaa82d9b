"""Input and output shapes of the live view API; LiveOut is also the console's `live.update`."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.fields import StrictCharField, StrictFloatField, StrictIntegerField

from .conf import REASON_MAX
from .models import LiveSession, LiveState, LiveViewer


class LiveRequestIn(serializers.Serializer):
    reason = StrictCharField(max_length=REASON_MAX, allow_blank=False, trim_whitespace=True)


class LiveFilterIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=LiveState.choices, required=False)
    device = serializers.UUIDField(required=False)


class LiveViewerOut(serializers.Serializer):
    """One person who watched: the first look is audited and told to the officer."""

    user = StrictCharField(source="user_id")
    username = StrictCharField(source="user.username")
    full_name = StrictCharField(source="user.full_name", allow_blank=True)
    first_viewed_at = serializers.DateTimeField()
    last_viewed_at = serializers.DateTimeField()


class LiveOut(serializers.Serializer):
    """The contract's live session (PROTOCOL "Live view"), plus names and limits for the console."""

    id = StrictCharField()
    device = StrictCharField(source="device_id")
    officer = StrictCharField(source="officer_id", allow_null=True)
    state = serializers.ChoiceField(choices=LiveState.choices)
    reason = StrictCharField()
    requested_by = StrictCharField(source="requested_by_id")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    playlist_url = StrictCharField()
    viewers = LiveViewerOut(many=True, source="viewer_list")
    # Extensions: when it ends by itself, why it ended, names for the console.
    expires_at = serializers.DateTimeField()
    end_reason = StrictCharField(allow_null=True)
    segment_seconds = StrictIntegerField()
    device_label = StrictCharField()
    requested_by_name = StrictCharField()


class _Shown:
    """A session with what LiveOut shows beside its columns (viewers, names)."""

    def __init__(self, session: LiveSession, viewers: list[LiveViewer]) -> None:
        self.session = session
        self.viewer_list = viewers
        self.device_label = session.device.label or session.device.serial
        self.requested_by_name = session.requested_by.full_name or session.requested_by.get_username()
        self.end_reason = session.end_reason or None

    def __getattr__(self, name: str):
        return getattr(self.session, name)


def live_data(session: LiveSession, *, viewers: list[LiveViewer] | None = None) -> dict:
    """LiveOut's data for one session (its viewers read here unless given)."""
    if viewers is None:
        viewers = list(session.viewers.select_related("user").order_by("first_viewed_at"))
    return dict(LiveOut(_Shown(session, viewers)).data)


class SegmentOut(serializers.Serializer):
    name = StrictCharField()
    sequence = StrictIntegerField(allow_null=True)
    duration = StrictFloatField(allow_null=True)
    size = StrictIntegerField()
    stored_at = serializers.DateTimeField()
