"""Reads of live view: sessions, the segments a playlist lists."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from apps.core.errors import NotFound

from . import conf
from .models import LiveSegment, LiveSession


def live_get(*, session_id) -> LiveSession:
    try:
        session = LiveSession.objects.select_related("device", "requested_by").filter(pk=session_id).first()
    except ValidationError:
        session = None
    if session is None:
        raise NotFound("No such live session.", code="live_not_found")
    return session


def live_list(*, filters: dict) -> QuerySet[LiveSession]:
    sessions = LiveSession.objects.select_related("device", "requested_by").order_by("-created_at")
    if filters.get("state"):
        sessions = sessions.filter(state=filters["state"])
    if filters.get("device"):
        sessions = sessions.filter(device_id=filters["device"])
    return sessions


def playlist_segments(*, session_id) -> tuple[LiveSegment | None, list[LiveSegment]]:
    """The init segment (or None) and the latest media segments, oldest first."""
    rows = list(
        LiveSegment.objects.filter(session_id=session_id, sequence__isnull=False)
        .order_by("-sequence")
        .only("name", "sequence", "duration", "stored_at")[: conf.playlist_segments()]
    )
    rows.reverse()
    init = LiveSegment.objects.filter(session_id=session_id, name="init.mp4").only("name").first()
    return init, rows
