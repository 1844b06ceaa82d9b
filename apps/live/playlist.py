"""The HLS playlist of a live session and the signed segment links it lists.

A link names the session, the segment and the viewer who read the playlist, and carries its own
expiry, signed with SECRET_KEY (django.core.signing: HMAC, compared in constant time). A player
fetches it with no header; a request that does carry credentials must be that same viewer's.
"""

from __future__ import annotations

import functools
import math
import time
from datetime import datetime, timedelta
from urllib.parse import quote

from django.conf import settings
from django.core import signing

from . import conf, index
from .models import LiveSegment, LiveSession

SEGMENT_SALT = "rtcc.live.segment"
CONTENT_TYPE = "application/vnd.apple.mpegurl"


def _expires_at(expires_in: int | None) -> int:
    expires_in = int(conf.link_seconds() if expires_in is None else expires_in)
    step = max(1, expires_in // 4)
    return -(-(math.ceil(time.time()) + expires_in) // step) * step  # never less than expires_in from now


def segment_token(*, session_id, name: str, user_id, expires_in: int | None = None) -> str:
    """A link token valid for `expires_in` seconds (RTCC_LIVE_LINK_SECONDS), up to a quarter more:
    the expiry is rounded up to a quarter of the lifetime, so the token for the same segment and
    viewer is signed once per quarter, not at every poll (a viewer reads the playlist every
    second, and it lists several segments)."""
    return _signed(str(session_id), name, str(user_id), _expires_at(expires_in), settings.SECRET_KEY)


@functools.lru_cache(maxsize=8192)
def _signed(session_id: str, name: str, user_id: str, expires_at: int, _key: str) -> str:
    """(The key is part of the cache's key: a new SECRET_KEY signs anew.)"""
    return signing.dumps({"s": session_id, "n": name, "u": user_id, "x": expires_at}, salt=SEGMENT_SALT)


def read_segment_token(token: str) -> dict | None:
    """{"session", "name", "user"} of a valid, unexpired link token, else None."""
    try:
        payload = signing.loads(token, salt=SEGMENT_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("x"), int) or payload["x"] < time.time():
        return None
    return {"session": payload.get("s"), "name": payload.get("n"), "user": payload.get("u")}


def segment_url(base_url: str, session: LiveSession, name: str, user_id, *, expires_at: int) -> str:
    """The signed link to one segment for this viewer (`expires_at`: one for the whole playlist)."""
    link = base_url + session.path
    return _link(link, str(session.pk), name, str(user_id), expires_at, settings.SECRET_KEY)


@functools.lru_cache(maxsize=16384)
def _link(session_url: str, session_id: str, name: str, user_id: str, expires_at: int, key: str) -> str:
    """The whole link, made once per viewer, segment and quarter of the link's lifetime (every
    poll of every viewer lists the same links again: quoting and formatting them anew was the
    largest cost of a playlist)."""
    token = _signed(session_id, name, user_id, expires_at, key)
    return f"{session_url}segments/{name}?token={quote(token)}"


def _segment_starts(segments: list[LiveSegment]) -> list[datetime]:
    """When each listed segment began: stored at the end of its duration, give or take the upload,
    and never before the end of the one before it. A camera catching up after a lost link sends
    several segments in a second; their store times minus their durations would then go back in
    time, and a player's clock (EXT-X-PROGRAM-DATE-TIME) with them."""
    starts: list[datetime] = []
    previous_end = None
    for segment in segments:
        length = timedelta(seconds=segment.duration or 0)
        start = segment.stored_at - length
        if previous_end is not None and start < previous_end:
            start = previous_end
        starts.append(start)
        previous_end = start + length
    return starts


def _listed(session, segments: list, retention: timedelta) -> list:
    """The segments a playlist lists (oldest first): those still kept, from the session's floor on,
    the newest unbroken run of them. Raises the floor to the first one listed."""
    now = time.time()
    floor = index.raised(session, "floor")
    segments = [
        s
        for s in segments
        if (s.stored_at + retention).timestamp() > now and (floor is None or (s.sequence or 0) >= floor)
    ]
    for position in range(len(segments) - 1, 0, -1):
        previous, current = segments[position - 1].sequence, segments[position].sequence
        if previous is None or current is None or previous != current - 1:
            segments = segments[position:]
            break
    if segments and segments[0].sequence is not None and (floor is None or segments[0].sequence > floor):
        index.raise_to(session.pk, "floor", segments[0].sequence)
    return segments


def _target_duration(session: LiveSession, segments: list[LiveSegment]) -> int:
    """At least every listed segment's duration and the camera's segment length, and never less
    than a playlist of the session said before (a player times its reloads by it, and RFC 8216
    lets it never change: it rises only for a segment longer than any before)."""
    longest = max((math.ceil(s.duration or 0) for s in segments), default=0)
    before = index.raised(session, "target")
    target = max(1, session.segment_seconds or 0, longest, before or 0)
    if before is None or target > before:
        index.raise_to(session.pk, "target", target)
    return target


@functools.lru_cache(maxsize=4096)
def _program_date_time(start: datetime) -> str:
    return start.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render(*, session: LiveSession, has_init: bool, segments: list[LiveSegment], base_url: str, user_id) -> str:
    """The playlist text: EXT-X-MAP (the init segment), the latest segments in order with their
    media sequence, EXT-X-ENDLIST once the session has ended.

    Only the newest unbroken run is listed, never below the first segment a playlist of the
    session listed before (index.raised): the sequence numbers a player derives from
    EXT-X-MEDIA-SEQUENCE must name the same segments in every later playlist, and that number
    never goes back, even when a late segment fills the gap the run started after.

    A segment is deleted once RTCC_LIVE_RETENTION has passed since it was stored (segments_purge):
    one past it is not listed, and no link outlives it. A web process keeps recent segments in
    memory and may not hear of the worker's deletion; a link that expired with the segment's
    retention cannot fetch that copy after the segment is gone."""
    retention = conf.retention()
    segments = _listed(session, segments, retention)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{_target_duration(session, segments)}",
        f"#EXT-X-MEDIA-SEQUENCE:{segments[0].sequence if segments else 0}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    expires_at = _expires_at(None)  # every link of one playlist expires together
    if has_init:
        lines.append(f'#EXT-X-MAP:URI="{segment_url(base_url, session, "init.mp4", user_id, expires_at=expires_at)}"')
    for segment, start in zip(segments, _segment_starts(segments), strict=True):
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_program_date_time(start)}")
        lines.append(f"#EXTINF:{segment.duration or 0:.3f},")
        kept_until = math.floor((segment.stored_at + retention).timestamp())
        lines.append(segment_url(base_url, session, segment.name, user_id, expires_at=min(expires_at, kept_until)))
    if not session.is_open:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
