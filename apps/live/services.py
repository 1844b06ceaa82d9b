"""Every write of live view: sessions (request, renew, end), stored segments, viewers.

State lives in the database and the object store only, so any daphne process can take any
request: the camera's segment PUTs, a viewer's playlist read, the operator's stop. State
changes are conditional UPDATEs (`... WHERE state IN (...)`), audited in the same transaction
and pushed after commit: `live.update` to the console, a `live` frame to the camera's socket.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
import time
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from apps.audit.context import AuditContext
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event, audit_record, event_insert_select
from apps.core.errors import Conflict, InvalidInput, TooLarge
from apps.core.realtime import console_send_after_commit, device_frame_after_commit
from apps.counters import names as counted
from apps.counters.services import counter_add, counts_upsert
from apps.devices import presence
from apps.devices.models import Device, DeviceKind
from apps.integrations import push
from apps.integrations.storage import get_storage, unavailable_on_failure

from . import conf, index
from .models import OPEN_STATES, EndReason, LiveSegment, LiveSession, LiveState, LiveViewer, segment_key
from .serializers import SegmentOut, live_data

log = logging.getLogger(__name__)

INIT_NAME = "init.mp4"
_MEDIA_NAME = re.compile(r"^(0|[1-9][0-9]{0,8})\.m4s\Z")  # \Z: "$" also matches before a final newline
_DURATION = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,6})?\Z")
CONTENT_TYPES = {"mp4": "video/mp4", "m4s": "video/iso.segment"}


def _live_frame(session: LiveSession, action: str) -> dict:
    """The device socket frame (PROTOCOL "Live view")."""
    return {
        "type": "live",
        "action": action,
        "live": {"id": str(session.id), "upload_url": session.upload_url, "segment_seconds": session.segment_seconds},
    }


def _publish(session: LiveSession, *, frame: str | None = None) -> None:
    """After commit: the start/stop frame to the camera (wherever its socket is), the update to the console."""
    if frame:
        device_frame_after_commit(session.device_id, _live_frame(session, frame))
    transaction.on_commit(lambda: index.state_changed(session))
    console_send_after_commit("live.update", live_data(session))


def _reload(session_id) -> LiveSession:
    return LiveSession.objects.select_related("device", "requested_by").get(pk=session_id)


# Sessions --------------------------------------------------------------------------------------


def live_request(
    *, device: Device, user, reason: str, base_url: str, context: AuditContext | None = None
) -> tuple[LiveSession, bool]:
    """Opens a live session on a recording camera (or renews the open one). Returns (session, created).

    Refused (409) for a revoked, offline or non-recording device. The camera is told over its
    socket after commit; asking again while a session is open renews its time limit.
    """
    if device.revoked:
        raise Conflict("This device is revoked; it cannot be watched.", code="device_revoked")
    presence.merge_live([device])
    if not device.online:
        raise Conflict("The camera is offline; live view needs a connected camera.", code="device_offline")
    if not device.recording:
        raise Conflict(
            "The camera is not recording; live view is only possible while it records.", code="device_not_recording"
        )
    # Never answered with an ended session: one stopped or timed out as this request renewed it
    # (another operator's stop at that moment) opened nothing, and the operator asked to watch.
    for _ in range(3):
        existing = LiveSession.objects.filter(device=device, state__in=OPEN_STATES).first()
        if existing is None or not live_end_if_due(session=existing).is_open:
            opened = _live_open(device=device, user=user, reason=reason, base_url=base_url, context=context)
            if opened is not None:
                return opened, True
            continue  # another request opened one at the same moment: renewed above next time
        renewed = live_renew(session=existing, user=user, reason=reason, context=context)
        if renewed.is_open:
            return renewed, False
    raise Conflict("The camera's live session ended as it was asked for; ask again.")


def _live_open(*, device: Device, user, reason: str, base_url: str, context: AuditContext | None) -> LiveSession | None:
    """A new session on the camera; None when another request opened one at the same moment."""
    now = timezone.now()
    session = LiveSession(
        device=device,
        officer_id=device.officer_id,
        reason=reason,
        requested_by=user,
        created_at=now,
        expires_at=now + timedelta(seconds=conf.max_seconds()),
        base_url=base_url.rstrip("/"),
        segment_seconds=conf.segment_seconds(),
    )
    try:
        with transaction.atomic():
            session.save(force_insert=True)
            audit_record(
                action="live.request",
                actor=user,
                obj=session,
                context=context,
                details={"device": str(device.pk), "officer": str(device.officer_id or ""), "reason": reason},
            )
            session = _reload(session.pk)
            _publish(session, frame="start")
    except IntegrityError:
        return None
    return session


def live_renew(*, session: LiveSession, user, reason: str, context: AuditContext | None = None) -> LiveSession:
    """Asking again while a session is open: its time limit starts over (the camera is told again)."""
    now = timezone.now()
    with transaction.atomic():
        renewed = LiveSession.objects.filter(pk=session.pk, state__in=OPEN_STATES).update(
            expires_at=now + timedelta(seconds=conf.max_seconds()), renew_count=F("renew_count") + 1
        )
        session = _reload(session.pk)
        if not renewed:
            return session
        audit_record(
            action="live.renew",
            actor=user,
            obj=session,
            context=context,
            details={"device": str(session.device_id), "reason": reason, "expires_at": session.expires_at.isoformat()},
        )
        _publish(session, frame="start")
    return session


def live_end(
    *, session_id, end_reason: str, actor=None, context: AuditContext | None = None, now=None
) -> LiveSession | None:
    """Ends an open session (None when it was not open). The camera is told to stop."""
    now = now or timezone.now()
    ended_by = actor if getattr(actor, "has_role", None) else None
    with transaction.atomic():
        if not LiveSession.objects.filter(pk=session_id, state__in=OPEN_STATES).update(
            state=LiveState.ENDED, ended_at=now, end_reason=end_reason, ended_by=ended_by
        ):
            return None
        session = _reload(session_id)
        audit_record(
            action="live.end",
            actor=actor,
            obj=session,
            context=context,
            details={"device": str(session.device_id), "end_reason": end_reason},
        )
        _publish(session, frame="stop")
    return session


def live_stop(*, session: LiveSession, user, context: AuditContext | None = None) -> LiveSession:
    """The operator ends the session (stopping an ended one changes nothing)."""
    return live_end(session_id=session.pk, end_reason=EndReason.STOPPED, actor=user, context=context) or _reload(
        session.pk
    )


def live_end_if_due(*, session: LiveSession) -> LiveSession:
    """Readers see a session past its time limit as ended at once, not only after the next sweep."""
    if session.is_open and session.expires_at <= timezone.now():
        return live_end(session_id=session.pk, end_reason=EndReason.TIME_LIMIT) or _reload(session.pk)
    return session


def live_end_due(*, now=None) -> int:
    """Ends the open sessions past their time limit (the sweep, and a list about to be read, so
    that no list shows a session live after its time); the number ended."""
    now = now or timezone.now()
    ended = 0
    for session_id in LiveSession.objects.filter(state__in=OPEN_STATES, expires_at__lte=now).values_list(
        "id", flat=True
    )[: conf.sweep_batch()]:
        if live_end(session_id=session_id, end_reason=EndReason.TIME_LIMIT, now=now):
            ended += 1
    return ended


def live_end_for_device(*, device_id, end_reason: str) -> int:
    """Ends every open session of a device (it stopped recording, or disconnected)."""
    ended = 0
    for session_id in LiveSession.objects.filter(device_id=device_id, state__in=OPEN_STATES).values_list(
        "id", flat=True
    ):
        if live_end(session_id=session_id, end_reason=end_reason):
            ended += 1
    return ended


def live_device_connected(*, device_id, connected_at: datetime) -> str | None:
    """A socket of the camera opened at `connected_at` (a reconnection, or one more socket): it is
    told where its latest session stands if the frame saying so went out before the socket could
    hear it. An open, valid session created before: `start` again (the camera resumes sending
    segments). A session that ended before, less than RTCC_LIVE_MAX_SECONDS ago (it ended when
    the camera disconnected, or while it was away): `stop`. Anything later reached the socket
    itself; anything older is history. Returns the action sent, if any."""
    session = LiveSession.objects.filter(device_id=device_id).order_by("-created_at").first()
    if session is None:
        return None
    if session.is_open:
        if session.created_at >= connected_at:
            return None  # its `start` went out after the socket joined
        session = live_end_if_due(session=session)
        if not session.is_open:
            return "stop"  # ending it told the camera
        action = "start"
    elif session.ended_at is None or session.ended_at >= connected_at:
        return None
    elif connected_at - session.ended_at <= timedelta(seconds=conf.max_seconds()):
        action = "stop"
    else:
        return None
    device_frame_after_commit(session.device_id, _live_frame(session, action))
    return action


def live_sweep(*, now=None) -> dict:
    """The periodic sweep: ends sessions past their time limit, and sessions whose camera is gone
    or stopped recording without this deployment hearing of it (a process that died, say); and
    queues again the officers' notices still owed (live_notices_owed)."""
    now = now or timezone.now()
    timed_out = live_end_due(now=now)
    orphaned = 0
    sessions = list(LiveSession.objects.filter(state__in=OPEN_STATES).select_related("device")[: conf.sweep_batch()])
    presence.merge_live([s.device for s in sessions])
    for session in sessions:
        device = session.device
        if device.revoked:
            why = EndReason.REVOKED
        elif not device.online:
            why = EndReason.DISCONNECTED
        elif not device.recording:
            why = EndReason.RECORDING_STOPPED
        else:
            continue
        if live_end(session_id=session.pk, end_reason=why, now=now):
            orphaned += 1
    return {"timed_out": timed_out, "orphaned": orphaned, "notices_owed": live_notices_owed(now=now)}


# Segments --------------------------------------------------------------------------------------


def parse_segment_name(name: str) -> int | None:
    """`init.mp4` -> None; `<n>.m4s` -> n; anything else is a 400."""
    if name == INIT_NAME:
        return None
    match = _MEDIA_NAME.match(name)
    if match is None:
        raise InvalidInput("A segment is named init.mp4 or <sequence>.m4s (0, 1, 2, ...).", code="invalid_segment_name")
    return int(match.group(1))


def parse_segment_duration(raw: str | None) -> float:
    if raw is None or not raw.strip():
        raise InvalidInput(
            "X-Segment-Duration (decimal seconds) is required for a media segment.",
            code="invalid",
            fields={"X-Segment-Duration": ["This header is required."]},
        )
    raw = raw.strip()
    value = float(raw) if _DURATION.match(raw) else -1.0
    if not 0 < value <= conf.MAX_SEGMENT_SECONDS:
        raise InvalidInput(
            f"X-Segment-Duration must be decimal seconds above 0 and at most {conf.MAX_SEGMENT_SECONDS:g}.",
            code="invalid",
            fields={"X-Segment-Duration": ["Must be decimal seconds, e.g. 1.000."]},
        )
    return value


# A camera cuts segments of a second or more: a sequence number beyond what this many segments a
# second since the session was asked for (and a margin) could reach is a counter gone wrong. The
# playlist lists the highest numbers, so one such segment (999999999.m4s) froze the view for good.
SEQUENCE_RATE = 10
SEQUENCE_MARGIN = 1000


def _refuse_far_ahead(session: LiveSession, sequence: int | None, now) -> None:
    if sequence is None:
        return
    reachable = SEQUENCE_MARGIN + SEQUENCE_RATE * max(0.0, (now - session.created_at).total_seconds())
    if sequence > reachable:
        raise InvalidInput(
            f"Segment {sequence} is further ahead than this session could have reached ({int(reachable)});"
            " number media segments 0, 1, 2, ... in the order they are cut.",
            code="invalid_segment_name",
        )


def _refuse_unusable_size(data: bytes) -> None:
    if len(data) > conf.MAX_SEGMENT_BYTES:
        raise TooLarge(f"A segment may be at most {conf.MAX_SEGMENT_BYTES} bytes (8 MiB).", code="segment_too_large")
    if not data:  # nothing a player could show: never listed, never makes a session live
        raise InvalidInput("A segment is never empty: send its bytes.", code="invalid", fields={"body": ["Empty."]})


def segment_store(
    *,
    session: LiveSession,
    device: Device,
    name: str,
    data: bytes,
    duration_header: str | None,
    known_new: bool = False,
) -> tuple[LiveSegment, bool]:
    """Stores one segment once (the same name again: the stored one, unchanged). Returns (segment, created).

    It is listed in the playlist the moment its row commits, right after its bytes are in the
    store. The first media segment makes the session `live`. `known_new`: the caller has just
    read that no segment of that name is stored (one sent twice at the same moment still ends
    as the stored one, through the unique constraint).
    """
    sequence = parse_segment_name(name)
    duration = parse_segment_duration(duration_header) if sequence is not None else None
    _refuse_far_ahead(session, sequence, timezone.now())
    existing = None if known_new else LiveSegment.objects.filter(session=session, name=name).first()
    if existing is not None:
        return existing, False
    session = live_end_if_due(session=session)
    if not session.is_open:
        raise Conflict("This live session has ended; stop sending segments.", code="live_ended")
    _refuse_unusable_size(data)
    with unavailable_on_failure(retry_after=conf.STORE_RETRY_AFTER):  # a 503: nothing stored, send it again
        get_storage().put(segment_key(session.pk, name), io.BytesIO(data), content_type=CONTENT_TYPES[name[-3:]])
    cache_put(segment_key(session.pk, name), data)
    now = timezone.now()
    first = sequence is not None and session.state == LiveState.REQUESTED
    try:
        # One INSERT, committed alone, for every segment but the first media one (which also
        # starts the session, audited, in the same transaction); inside a caller's transaction, a
        # savepoint, so that a duplicate's IntegrityError leaves that transaction usable.
        alone = not first and not transaction.get_connection().in_atomic_block
        with contextlib.nullcontext() if alone else transaction.atomic():
            segment = LiveSegment.objects.create(
                session=session, name=name, sequence=sequence, duration=duration, size=len(data), stored_at=now
            )
            if first and LiveSession.objects.filter(pk=session.pk, state=LiveState.REQUESTED).update(
                state=LiveState.LIVE, started_at=now
            ):
                started = _reload(session.pk)
                audit_record(
                    action="live.start",
                    actor=device,
                    obj=started,
                    details={"device": str(device.pk), "first_segment": name},
                )
                _publish(started)
    except IntegrityError:  # the same segment, sent twice at the same moment
        return LiveSegment.objects.get(session=session, name=name), False
    index.segment_added(session.pk, sequence=sequence, duration=duration, stored_at=now, data=data)
    return segment, True


async def segment_store_on_loop(*, session: LiveSession, name: str, data: bytes, duration_header: str | None):
    """segment_store() of the common case, from the event loop with no thread (apps/live/fastpath.py):
    a media segment of a session already `live`, within its time limit, on PostgreSQL and S3. Its
    bytes go to the store (aiohttp), its row in one statement (apps.core.aiodb), the playlist copy
    to Redis. (segment, True) when stored; None when segment_store() must do it in a thread (any
    other case, a segment of that name stored at the same moment, or the row's outcome unknown:
    stored bytes are simply written again there). Raises ApplicationError (a 400, or a 503 when
    the store fails)."""
    from apps.core import aiodb  # the event loop's statements: only ever used from async code

    sequence = parse_segment_name(name)
    now = timezone.now()
    put_async = getattr(get_storage(), "put_small_async", None)
    if sequence is None or session.state != LiveState.LIVE or session.expires_at <= now or put_async is None:
        return None
    duration = parse_segment_duration(duration_header)
    _refuse_far_ahead(session, sequence, now)
    _refuse_unusable_size(data)
    key = segment_key(session.pk, name)
    with unavailable_on_failure(retry_after=conf.STORE_RETRY_AFTER):  # a 503: nothing recorded, send it again
        if not await put_async(key, data, content_type=CONTENT_TYPES["m4s"]):
            return None  # a proxy stands before the store: boto3, in a thread
    cache_put(key, data)
    now = timezone.now()
    try:
        row = await aiodb.fetchone(
            *_segment_insert_statement(
                session_id=session.pk, name=name, sequence=sequence, duration=duration, size=len(data), now=now
            )
        )
    except Exception:  # not sent, refused, or lost on the way: the thread's ORM path decides
        log.warning("live: segment %s of %s not recorded from the event loop", name, session.pk, exc_info=True)
        return None
    if row is None:
        return None
    segment = LiveSegment(
        id=row[0], session_id=session.pk, name=name, sequence=sequence, duration=duration, size=len(data), stored_at=now
    )
    await index.segment_added_async(session.pk, sequence=sequence, duration=duration, stored_at=now, data=data)
    return segment, True


def _segment_insert_statement(*, session_id, name: str, sequence: int, duration: float, size: int, now: datetime):
    """(SQL, params): the segment's row, as segment_store() writes it (the session was read open just
    before its bytes were stored), unless one of that name is stored; RETURNING its id (else no row)."""
    segments = LiveSegment._meta.db_table
    sql = (
        f"INSERT INTO {segments} (session_id, name, sequence, duration, size, stored_at)"  # noqa: S608
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, name) DO NOTHING RETURNING id"
    )
    return sql, [session_id, name, sequence, duration, size, connection.ops.adapt_datetimefield_value(now)]


def segment_data(segment: LiveSegment) -> dict:
    """The answer to the camera's PUT."""
    return dict(SegmentOut(segment).data)


def segments_purge(*, now=None, limit: int | None = None) -> int:
    """Deletes segments stored longer than RTCC_LIVE_RETENTION ago (an init segment only once its
    session ended and none of its media segments is kept): bytes first (every version, a
    thousand per request: ObjectStore.purge_many), then the rows of those the store deleted; the
    others are tried again next time."""
    now = now or timezone.now()
    cutoff = now - conf.retention()
    # The init segment (no sequence) goes last: a camera sends it once, at the start, and without it
    # no listed segment can be played (the playlist's EXT-X-MAP). It is kept while its session is
    # open or any of its media segments is kept (a session renewed past the retention).
    kept_media = LiveSegment.objects.filter(
        session_id=OuterRef("session_id"), sequence__isnull=False, stored_at__gt=cutoff
    )
    init_done = Q(sequence__isnull=True) & ~Q(session__state__in=OPEN_STATES) & ~Exists(kept_media)
    segments = list(
        LiveSegment.objects.filter(stored_at__lte=cutoff)
        .filter(Q(sequence__isnull=False) | init_done)
        .order_by("stored_at")[: limit or conf.sweep_batch()]
    )
    if not segments:
        return 0
    try:
        failed = set(get_storage().purge_many([segment.key for segment in segments]))
    except Exception:  # the store failing as a whole (one that cannot even be opened included)
        log.exception("live: could not delete %d segments; trying again next time", len(segments))
        return 0
    if failed:
        log.warning("live: could not delete %d of %d segments; trying again next time", len(failed), len(segments))
    purged = 0
    for segment in segments:
        if segment.key in failed:
            continue
        _cache_drop(segment.key)
        segment.delete()
        index.segment_removed(segment.session_id, sequence=segment.sequence)
        purged += 1
    return purged


# Viewers ---------------------------------------------------------------------------------------

VIEWER_TOUCH_SECONDS = 15.0
_touched: dict[tuple[str, str], float] = {}  # (session, user) -> when this process last wrote it
_TOUCHED_MAX = 10_000


def viewer_seen_here(*, session_id, user_id) -> bool | None:
    """For a poll answered without the API view: None when this process never recorded this
    person's look at the session (their read goes through live_viewer_seen: it may be their
    first look); True when it did moments ago; False when it did, longer ago than
    VIEWER_TOUCH_SECONDS, and the caller is to refresh it (viewer_refresh) off the request path.
    Marked refreshed at once, so one poll of many does it."""
    key = (str(session_id), str(user_id))
    last = _touched.get(key)
    if last is None:
        return None
    mono = time.monotonic()
    if mono - last < VIEWER_TOUCH_SECONDS:
        return True
    _touched[key] = mono
    return False


def viewer_marked(*, session_id, user_id) -> None:
    """This process has just written this person's look at the session (viewer_seen_here)."""
    if len(_touched) > _TOUCHED_MAX:
        _touched.clear()
    _touched[(str(session_id), str(user_id))] = time.monotonic()


def viewer_refresh(*, session_id, user_id) -> None:
    """The person is still watching (their `last_viewed_at`, as the API view writes it)."""
    LiveViewer.objects.filter(session_id=session_id, user_id=user_id).update(last_viewed_at=timezone.now())


def live_viewer_seen(*, session: LiveSession, user, context: AuditContext | None = None) -> bool:
    """Records that this person read the playlist; True on their first look at this session, which
    is audited (`live.view`), told to the officer on their phones, and shown on the console."""
    key = (str(session.pk), str(user.pk))
    mono = time.monotonic()
    last = _touched.get(key)
    if last is not None and mono - last < VIEWER_TOUCH_SECONDS:
        return False  # this process wrote it moments ago: no database round trip per poll
    now = timezone.now()
    first = False
    with transaction.atomic():
        if not LiveViewer.objects.filter(session_id=session.pk, user=user).update(last_viewed_at=now):
            try:
                with transaction.atomic():
                    viewer = LiveViewer.objects.create(
                        session_id=session.pk, user=user, first_viewed_at=now, last_viewed_at=now
                    )
            except IntegrityError:
                pass  # the same person's first look, through another process at the same moment
            else:
                first = True
                # The row itself (the caller's may be the playlist index's copy), read once for the
                # record and for the console's update (which lists this viewer too).
                session = _reload(session.pk)
                details = _view_details(session, user.pk)
                audit_record(action="live.view", actor=user, obj=session, context=context, details=details)
                _publish(session)
                if session.officer_id:
                    from .tasks import live_notify_officer

                    transaction.on_commit(lambda: _enqueue(live_notify_officer, viewer.pk))
                # The transparency report's count, last: its row stays locked until the commit.
                counter_add(name=counted.LIVE_VIEW, at=now)
    viewer_marked(session_id=session.pk, user_id=user.pk)
    return first


def _view_details(session: LiveSession, user_id) -> dict:
    """The `live.view` audit event's details (viewer_seen_statement writes the same in SQL): the
    reason is the viewer's own (_reason_given), not the session's when another operator opened it."""
    return {
        "device": str(session.device_id),
        "officer": str(session.officer_id or ""),
        "reason": _reason_given(session, user_id),
    }


# A first look from the event loop (fastpath.py) ------------------------------------------------
# On PostgreSQL: what live_viewer_seen writes in its transaction (the viewer's row, and on a
# first look the `live.view` audit event and the transparency report's count) as ONE statement
# in autocommit, so it stands or falls as a whole. The event is stored unchained and chained by
# the sealer within the seal interval (audit_stored_unchained after the statement). What follows
# a first look (the console's update, the officer's push) is done after it, off the request path:
# live_viewers_announce, live_officer_told.

# _view_details, from the session's row (its `reason` the viewer's own: see viewer_seen_statement).
_VIEW_DETAILS_SQL = (
    "jsonb_build_object('device', session.device_id::text, 'officer', COALESCE(session.officer_id::text, ''),"
    " 'reason', session.reason)"
)


def viewer_seen_statement(*, session_id, user, now: datetime, context: AuditContext | None) -> tuple[str, list]:
    """(SQL, params): this person read the session's playlist at `now`. Their row's
    `last_viewed_at` when they have one; else, on their first look, their row, the `live.view`
    audit event and its count. Its row, when the session exists: the new viewer's id on a first
    look (else NULL: they had a row, or another process wrote it at the same moment) and the
    session's officer."""
    sessions, viewers, events = LiveSession._meta.db_table, LiveViewer._meta.db_table, AuditEvent._meta.db_table
    count = counts_upsert(counts={counted.LIVE_VIEW: 1}, at=now, when="EXISTS (SELECT 1 FROM viewer)")
    assert count is not None
    event, details_json = audit_event(
        action="live.view",
        actor=user,
        object_type=LiveSession._meta.model_name or "",
        object_id=session_id,
        context=context,
        details={},
    )
    event_sql, event_args = event_insert_select(
        event, details_json, source="session, viewer", details_sql=f"{_VIEW_DETAILS_SQL} || %s::jsonb"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    sql = (
        # The reason this viewer gave when they last asked for the session (_reason_given), else its own.
        f"WITH session AS (SELECT s.id, s.device_id, s.officer_id, COALESCE((SELECT NULLIF(a.details->>'reason', '')"  # noqa: S608
        f" FROM {events} a WHERE a.object_type = %s AND a.object_id = s.id::text AND a.actor_type = 'user'"
        " AND a.actor_id = %s AND a.action IN ('live.request', 'live.renew') ORDER BY a.at DESC, a.id DESC LIMIT 1),"
        f" s.reason) AS reason FROM {sessions} s WHERE s.id = %s),"
        f" updated AS (UPDATE {viewers} v SET last_viewed_at = %s FROM session"
        " WHERE v.session_id = session.id AND v.user_id = %s RETURNING v.id),"
        f" viewer AS (INSERT INTO {viewers} (session_id, user_id, first_viewed_at, last_viewed_at, officer_phones_owed)"
        " SELECT session.id, %s, %s, %s, '[]'::jsonb FROM session WHERE NOT EXISTS (SELECT 1 FROM updated)"
        " ON CONFLICT (session_id, user_id) DO NOTHING RETURNING id),"
        f" counted AS ({count[0]}),"
        f" event AS ({event_sql})"
        " SELECT (SELECT id FROM viewer), session.officer_id FROM session"
    )
    asked = [LiveSession._meta.model_name, str(user.pk)]  # the reason's subquery
    params = [*asked, session_id, at, user.pk, user.pk, at, at, *count[1], *event_args]
    return sql, params


def viewer_seen_settled_statement(*, session_id, user_id, now: datetime) -> tuple[str, list]:
    """(SQL, params): read back when the connection was lost under viewer_seen_statement. Its row,
    when the session exists: the viewer's id (NULL when they have no row: that statement did not
    commit), whether that statement wrote their first look (their row was first seen at `now`), and
    the session's officer."""
    sessions, viewers = LiveSession._meta.db_table, LiveViewer._meta.db_table
    sql = (
        f"SELECT v.id, v.first_viewed_at = %s, s.officer_id FROM {sessions} s"  # noqa: S608
        f" LEFT JOIN {viewers} v ON v.session_id = s.id AND v.user_id = %s WHERE s.id = %s"
    )
    return sql, [connection.ops.adapt_datetimefield_value(now), user_id, session_id]


def live_viewers_announce(*, session_id) -> None:
    """The console's `live.update` for the session as it stands (its viewers listed), after new
    viewers' first looks written by viewer_seen_statement: one update for all who came at once."""
    session = LiveSession.objects.select_related("device", "requested_by").filter(pk=session_id).first()
    if session is not None:
        console_send_after_commit("live.update", live_data(session))


def live_officer_told(*, viewer_id) -> None:
    """Queues the officer's push for this viewer's first look (live_notify_officer)."""
    from .tasks import live_notify_officer

    _enqueue(live_notify_officer, viewer_id)


def _enqueue(task, *args) -> None:
    """Queues a task; a broker hiccup must never fail the request that triggered it."""
    try:
        task.delay(*args)
    except Exception:
        log.exception("could not queue %s%r", task.name, args)


NOTICE_OWED_AFTER_S = 30  # a first look's push not taken by then is queued again by the sweep
NOTICE_OWED_FOR_S = 3600  # and for this long: an officer told an hour late is told nothing new
NOTICE_LEASE_S = 60  # a sender holds the notice this long; sent again after it when its sender died


def _notice_free(now: datetime) -> Q:
    """A notice no sender holds: never taken, or its sender's lease ran out (it died sending)."""
    return Q(officer_notice_lease__isnull=True) | Q(officer_notice_lease__lte=now)


def live_notices_owed(*, now=None) -> int:
    """Queues again the officer's push for first looks FCM did not take within NOTICE_OWED_AFTER_S
    (the queueing failed, the task was lost with its worker, the worker died sending); the number."""
    from .tasks import live_notify_officer as notify_task

    now = now or timezone.now()
    owed = list(
        LiveViewer.objects.filter(
            _notice_free(now),
            officer_told_at__isnull=True,
            first_viewed_at__lt=now - timedelta(seconds=NOTICE_OWED_AFTER_S),
            first_viewed_at__gt=now - timedelta(seconds=NOTICE_OWED_FOR_S),
            session__officer__isnull=False,
        )
        .order_by("first_viewed_at")
        .values_list("pk", flat=True)[: conf.sweep_batch()]
    )
    for viewer_id in owed:
        _enqueue(notify_task, viewer_id)
    return len(owed)


def _reason_given(session: LiveSession, user_id) -> str:
    """Why this person watches: the reason they gave when they last asked for this session (a
    second operator asking for an open session renews it with a reason of their own, which the
    audit trail holds), else the session's own (they read it without asking)."""
    asked = (
        AuditEvent.objects.filter(
            object_type=LiveSession._meta.model_name,
            object_id=str(session.pk),
            actor_type="user",
            actor_id=str(user_id),
            action__in=("live.request", "live.renew"),
        )
        .order_by("-at", "-id")
        .values_list("details", flat=True)
        .first()
    )
    reason = asked.get("reason") if isinstance(asked, dict) else None
    return reason if isinstance(reason, str) and reason else session.reason


def live_notify_officer(*, viewer_id) -> list:
    """Tells the officer wearing the camera, on their phones, who is watching it live and why.
    Once per phone: the sender takes the notice for NOTICE_LEASE_S (officer_notice_lease), so that
    a repeat of the task (queued again by the sweep) sends nothing meanwhile, and marks it told
    (officer_told_at) once FCM took it. A sender that died mid-send leaves it owed: the sweep sends
    it again after the lease (the officer may then be told twice, never not at all). The phones
    FCM did not take it for, for now, are owed it again (officer_phones_owed), and only they get
    it on the retry."""
    taken = timezone.now()
    lease = taken + timedelta(seconds=NOTICE_LEASE_S)
    held = LiveViewer.objects.filter(_notice_free(taken), pk=viewer_id, officer_told_at__isnull=True)
    if not held.update(officer_notice_lease=lease):
        return []  # told already, held by another sender, or no such viewer
    viewer = LiveViewer.objects.select_related("session__device", "user").filter(pk=viewer_id).first()
    if viewer is None or not viewer.session.officer_id:
        return []
    session = viewer.session
    reachable = Device.objects.filter(
        officer_id=session.officer_id, kind=DeviceKind.PHONE, revoked_at__isnull=True, push_token__isnull=False
    ).exclude(push_token="")
    if viewer.officer_phones_owed:  # a retry: only the phones that did not get it
        reachable = reachable.filter(pk__in=viewer.officer_phones_owed)
    phones = [(str(phone.pk), phone.push_token) for phone in reachable if phone.push_token]
    who = viewer.user.full_name or viewer.user.get_username()
    reason = _reason_given(session, viewer.user_id)
    camera = session.device.label or session.device.serial
    at = timezone.localtime(viewer.first_viewed_at).strftime("%H:%M:%S %Z")
    # A first look after the session ended sees what it recorded: told too (the contract), as such.
    replayed = session.ended_at is not None and viewer.first_viewed_at > session.ended_at
    if replayed:
        title = f"{camera}'s ended live view was opened"
        body = f"{who} opened the live view of {camera} at {at}, after it ended. Reason: {reason}"
    else:
        title = f"{camera} is being watched live"
        body = f"{who} started watching {camera} live at {at}. Reason: {reason}"
    data = {
        "type": "live.view",
        "live_id": str(session.pk),
        "device_id": str(session.device_id),
        "viewer": str(viewer.user_id),
        "viewer_name": who,
        "reason": reason,
        "at": viewer.first_viewed_at.isoformat(),
        "ended": "true" if replayed else "false",
    }
    messages = [
        push.PushMessage(token=token, data=data, title=title, body=body, priority="high") for _, token in phones
    ]
    still_owed = LiveViewer.objects.filter(pk=viewer_id, officer_told_at__isnull=True, officer_notice_lease=lease)
    if not messages:  # the officer has no phone to tell: nothing is owed
        still_owed.update(officer_told_at=taken, officer_notice_lease=None)
        return []
    try:
        results = push.send_batch(messages)
    except Exception:
        log.exception("live: the push to the officer failed; the sweep tries again")
        still_owed.update(officer_notice_lease=None, officer_phones_owed=[phone for phone, _ in phones])
        return []
    for result in results:
        if not result.ok:
            log.warning("live: push to a phone failed: %s %s", result.error_code, result.detail)
    retry = [phone for (phone, _), result in zip(phones, results, strict=True) if not result.ok and result.retry]
    if retry:  # FCM did not take it for these phones, for now: owed to them again (the sweep sends it)
        still_owed.update(officer_notice_lease=None, officer_phones_owed=retry)
    else:
        still_owed.update(officer_told_at=taken, officer_notice_lease=None, officer_phones_owed=[])
    return results


# Segment bytes for viewers ---------------------------------------------------------------------
# Segments never change once stored, so each process keeps the most recent ones in memory:
# 200 viewers fetching one segment cost one read from the store, not 200.

_cache: dict[str, bytes] = {}
_cache_size = 0
_cache_lock = threading.Lock()


def cache_put(key: str, data: bytes) -> None:
    global _cache_size
    limit = conf.cache_bytes()
    if len(data) > limit:
        return
    with _cache_lock:
        if key in _cache:
            return
        _cache[key] = data
        _cache_size += len(data)
        while _cache_size > limit and _cache:
            oldest = next(iter(_cache))
            _cache_size -= len(_cache.pop(oldest))


def _cache_drop(key: str) -> None:
    global _cache_size
    with _cache_lock:
        data = _cache.pop(key, None)
        if data is not None:
            _cache_size -= len(data)


def _from_store(key: str) -> bytes:
    with unavailable_on_failure(retry_after=conf.STORE_RETRY_AFTER):
        data = b"".join(get_storage().iter_bytes(key))
    cache_put(key, data)
    return data


def _copied(key: str, data: bytes | None) -> bytes | None:
    """Redis's copy (or None), kept in this process's cache for the next viewer."""
    if data is not None:
        cache_put(key, data)
    return data


def segment_bytes(*, session_id, name: str) -> bytes:
    """The stored bytes of one segment (ObjectMissingError once deleted or never stored): from this
    process's cache, else Redis's short-lived copy, else the store."""
    key = segment_key(session_id, name)
    data = _cache.get(key) or _copied(key, index.segment_bytes(session_id, name))
    return data if data is not None else _from_store(key)


async def segment_bytes_async(*, session_id, name: str) -> bytes:
    """As segment_bytes(), from the event loop: the cache and Redis's copy without a thread, the
    store in a worker thread."""
    key = segment_key(session_id, name)
    data = _cache.get(key) or _copied(key, await index.segment_bytes_async(session_id, name))
    return data if data is not None else await sync_to_async(_from_store, thread_sensitive=False)(key)
