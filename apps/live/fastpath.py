"""The two requests viewers make every second, answered before Django's request machinery.

200 viewers each read a playlist and fetch a segment every second; through Django's middleware
and DRF that costs several milliseconds of CPU each, which is what saturates a web process (see
bench/live_view.py). This ASGI wrapper answers the common case directly and hands everything
else to Django unchanged, so errors, the first look of a viewer (audit, push) and session
cookies keep going through the one documented path (apps/live/apis.py):

- `GET .../segments/<name>?token=` with no credentials: the signed link is checked (the same
  function as the view) and the bytes come from this process's cache, Redis's short-lived copy
  (both on the event loop) or the store (in a worker thread).
- `GET .../playlist.m3u8` with an operator's bearer token: the token from this process's token
  cache (as for the API) and the Redis copy of the playlist, read on the event loop with no
  thread (a token not cached here: one statement on the loop too, on PostgreSQL), within the
  session's time limit. For a viewer this process has already recorded, their `last_viewed_at`
  and the token's `last_used_at` are kept up to date off the request path. A viewer it has not
  recorded (maybe a first look: audited, pushed to the officer) is recorded on the loop too, on
  PostgreSQL, in ONE statement (services.viewer_seen_statement: the row, the audit event, the
  count); the console's update (one per session for everyone who came at once) and the officer's
  push follow off the request path. Elsewhere (SQLite) by the view's own service call
  (services.live_viewer_seen) in one of two threads kept for first looks. When a camera goes live
  and the center's operators open it together, their first looks no longer queue one by one for
  a thread, nor hold the GIL against the loop.
- `PUT .../segments/<name>` from the session's own camera (device token, a Content-Length of at
  most 8 MiB): on PostgreSQL and S3, a media segment of a live session is stored on the event loop
  (services.segment_store_on_loop); else the same service call as the API view
  (services.segment_store) in one of the threads kept for the cameras' PUTs; anything else is
  handed to Django with the body replayed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.utils import timezone

from apps.accounts.authentication import (
    GENERATION_KEY,
    token_for_bearer,
    token_for_bearer_async,
    token_use_due,
    token_used,
)
from apps.accounts.tokens import DEVICE_PREFIX, USER_PREFIX, bearer_from_header, hash_token
from apps.audit.context import AuditContext, client_ip
from apps.audit.services import audit_stored_unchained
from apps.core import aiodb
from apps.core.errors import ApplicationError
from apps.core.fastpaths import (
    SECURITY_HEADERS,
    accepts_json,
    allowed_host,
    declared_length,
    error_answer,
    headers_of,
    json_answer,
    query_of,
    read_body,
    replaying,
    respond,
    run_jobs,
    run_later,
    start_soon,
)
from apps.core.realtime import run_then_send
from apps.devices.authentication import token_matches
from apps.integrations.storage import ObjectMissingError, StorageUnavailableError, get_storage

from . import conf, index, playlist, selectors, services

log = logging.getLogger(__name__)

_PLAYLIST = re.compile(r"^/api/v1/live/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/playlist\.m3u8\Z")
_SEGMENT = re.compile(
    r"^/api/v1/live/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/segments/"
    r"(init\.mp4|(?:0|[1-9][0-9]{0,8})\.m4s)\Z"
)


class LiveFastPath:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "PUT" and _SEGMENT.match(scope["path"]):
            await self._put(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/api/v1/live/"):
            try:
                answer = await self._answer(scope)
            except Exception:  # anything unexpected: Django answers (and logs) it
                answer = None
            if answer is not None:
                await respond(send, *answer)
                return
        await self.app(scope, receive, send)

    async def _put(self, scope, receive, send):
        headers = headers_of(scope)
        if headers is None:  # a header given twice: the view reads it as Django does
            await self.app(scope, receive, send)
            return
        token = bearer_from_header(headers.get(b"authorization"))
        length = declared_length(headers, conf.MAX_SEGMENT_BYTES)
        if not token or not token.startswith(DEVICE_PREFIX) or length is None:
            await self.app(scope, receive, send)
            return
        read = await read_body(receive, conf.MAX_SEGMENT_BYTES)
        if read is None:
            return
        body, within = read
        match = _SEGMENT.match(scope["path"])
        assert match is not None  # __call__ sends only matching paths here
        duration = headers.get(b"x-segment-duration")
        answer = None
        if within and len(body) == length:
            answer = await _put_segment_async(
                token, match.group(1), match.group(2), body, duration.decode("latin-1") if duration else None
            )
        if answer is None:
            await self.app(scope, replaying(body, receive), send)
            return
        await respond(send, *answer)

    async def _answer(self, scope):
        headers = headers_of(scope)
        if headers is None:  # a header given twice: the view reads it as Django does
            return None
        host = allowed_host(headers)
        if host is None:
            return None
        match = _SEGMENT.match(scope["path"])
        if match is not None:
            if b"authorization" in headers or settings.SESSION_COOKIE_NAME.encode() in headers.get(b"cookie", b""):
                return None  # credentials must be the viewer's own: the view checks them
            return await _segment(scope, match.group(1), match.group(2))
        match = _PLAYLIST.match(scope["path"])
        if match is not None:
            token = bearer_from_header(headers.get(b"authorization"))
            if not token or not token.startswith(USER_PREFIX):
                return None
            if scope.get("query_string") or not accepts_json(headers.get(b"accept")):
                return None  # the view says what it makes of them (`?format=xml` a 400, a 406)
            scheme = scope.get("scheme", "http")
            base = settings.RTCC_PUBLIC_URL or f"{scheme}://{host}"
            return await _playlist_async(token, match.group(1), base, client_ip(scope))
        return None


async def _segment(scope, live_id: str, name: str):
    query = query_of(scope)
    if query is None or set(query) != {"token"}:  # a repeated or another parameter: the view says
        return None
    grant = playlist.read_segment_token(query["token"])
    if grant is None or grant["session"] != live_id or grant["name"] != name:
        return None
    try:
        data = await services.segment_bytes_async(session_id=live_id, name=name)
    except ObjectMissingError:
        return None
    except StorageUnavailableError as exc:
        return error_answer(exc)
    content_type = services.CONTENT_TYPES[name[-3:]].encode()
    return (
        200,
        [
            (b"content-type", content_type),
            (b"content-length", str(len(data)).encode()),
            (b"cache-control", f"private, max-age={conf.link_seconds()}".encode()),
            *SECURITY_HEADERS,
        ],
        data,
    )


class _FirstLook:
    """A viewer this process has not recorded: _first_look records them."""


_FIRST_LOOK = _FirstLook()


def _skip_django(record, live_id: str) -> list[Callable[[], None]] | _FirstLook | None:
    """None: the API view answers (no usable operator token). _FIRST_LOOK: a viewer this process
    has not recorded yet (maybe a first look, audited and pushed: _first_look records it). Else
    the poll needs nothing but the playlist, and what it returns is left to do off the request
    path: the viewer's `last_viewed_at` every VIEWER_TOUCH_SECONDS and the token's `last_used_at`
    once a minute (done in the request, they made every viewer who joined in the same second
    come back through the API view in the same second, again and again)."""
    if record is None or not record.user.has_role("operator"):
        return None
    seen = services.viewer_seen_here(session_id=live_id, user_id=record.user_id)
    if seen is None:
        return _FIRST_LOOK
    later: list[Callable[[], None]] = []
    if seen is False:
        later.append(functools.partial(services.viewer_refresh, session_id=live_id, user_id=record.user_id))
    if token_use_due(record):
        later.append(functools.partial(token_used, record))
    return later


def _serves(snapshot) -> bool:
    """Whether the Redis copy of the playlist answers this read: there is one, and its session
    is not open past its time limit (the view ends such a session first)."""
    return snapshot is not None and not (snapshot[0].is_open and snapshot[0].expires_at <= timezone.now())


def _rendered(record, snapshot, base: str):
    if not _serves(snapshot):
        return None
    session, has_init, segments = snapshot
    text = playlist.render(session=session, has_init=has_init, segments=segments, base_url=base, user_id=record.user_id)
    body = text.encode()
    return (
        200,
        [
            (b"content-type", playlist.CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *SECURITY_HEADERS,
        ],
        body,
    )


def _playlist(token: str, live_id: str, base: str, source_ip: str | None = None):
    """In a worker thread: the token from the cache or the database, the index from Redis."""
    record = token_for_bearer(token)
    later = _skip_django(record, live_id)
    if later is None:
        return None
    snapshot = index.read(live_id, count=conf.playlist_segments())
    if isinstance(later, _FirstLook):
        return _first_look(record, snapshot, base, source_ip)
    run_jobs(later)
    return _rendered(record, snapshot, base)


def _first_look(record, snapshot, base: str, source_ip: str | None):
    """In a worker thread: what the API view does for a viewer (services.live_viewer_seen: on a
    first look the `live.view` audit event, the officer's push, the console's update), when the
    Redis copy of the playlist serves the read; else None and the view answers."""
    if not _serves(snapshot):
        return None
    user = record.user
    services.live_viewer_seen(session=snapshot[0], user=user, context=AuditContext(actor=user, source_ip=source_ip))
    if token_use_due(record):
        token_used(record)
    return _rendered(record, snapshot, base)


async def _playlist_async(token: str, live_id: str, base: str, source_ip: str | None = None):
    """On the event loop, no thread at all: one Redis round trip reads the token generation and
    the index together (two when they live in different Redis servers), and a token not cached
    here is read from PostgreSQL on the loop too; in a worker thread when Redis does not answer,
    and for a viewer not recorded here where their first look is written through the ORM (SQLite,
    or PostgreSQL out of reach: on PostgreSQL it is one statement on the loop, _first_look_async)."""
    count = conf.playlist_segments()
    together = index.shares_redis_with_tokens()
    if together:
        generation, snapshot = await index.read_async(live_id, count=count, also=(GENERATION_KEY,))
        if generation is None:  # Redis did not answer: the way through the database
            return await _playlist_in_thread(token, live_id, base, source_ip)
        record = await token_for_bearer_async(token, generation[0])
    else:
        record = await token_for_bearer_async(token)
    later = _skip_django(record, live_id)
    if later is None:
        return None
    if not together:
        _, snapshot = await index.read_async(live_id, count=count)
    if isinstance(later, _FirstLook):
        if aiodb.available():
            return await _first_look_async(record, live_id, snapshot, base, source_ip)
        return await _first_look_in_thread(record, snapshot, base, source_ip)
    run_later(later)
    return _rendered(record, snapshot, base)


async def _first_look_in_thread(record, snapshot, base: str, source_ip: str | None):
    # The console's update is sent from the loop after the commit, not from the thread (a hop
    # back to this loop kept a first-look thread waiting while the loop was busy).
    return await run_then_send(_first_look, record, snapshot, base, source_ip, executor=_FIRST_LOOK_THREADS)


# The connection was lost under the statement: PostgreSQL may have committed it or not.
_UNKNOWN_OUTCOME = (psycopg.OperationalError, psycopg.InterfaceError)


async def _first_look_async(record, live_id: str, snapshot, base: str, source_ip: str | None):
    """On the event loop, on PostgreSQL: a viewer this process has not recorded, in one statement
    (services.viewer_seen_statement: their row, and on a first look the audit event and the count),
    then, off the request path, the console's update (one for everyone who came at once) and the
    officer's push. None when the view must answer (the session is gone, or PostgreSQL refused)."""
    if not _serves(snapshot):
        return None
    user = record.user
    now = timezone.now()
    statement = services.viewer_seen_statement(
        session_id=live_id, user=user, now=now, context=AuditContext(actor=user, source_ip=source_ip)
    )
    try:
        row = await aiodb.fetchone(*statement)
    except aiodb.NotStarted:  # nothing was sent: the way through the ORM
        return await _first_look_in_thread(record, snapshot, base, source_ip)
    except _UNKNOWN_OUTCOME:
        log.warning("the connection was lost while a viewer was recorded; reading back whether it was", exc_info=True)
        settled = services.viewer_seen_settled_statement(session_id=live_id, user_id=user.pk, now=now)
        row = await aiodb.fetchone(*settled)
        if row is not None and row[0] is None:  # it did not commit: the statement is safe to repeat
            row = await aiodb.fetchone(*statement)
        elif row is not None:
            row = (row[0] if row[1] else None, row[2])
    if row is None:
        return None  # no such session (any more): the view answers
    viewer_id, officer_id = row
    services.viewer_marked(session_id=live_id, user_id=user.pk)
    later: list[Callable[[], None]] = []
    if viewer_id is not None:
        audit_stored_unchained()
        _announce_viewers(live_id)
        if officer_id is not None:
            later.append(functools.partial(services.live_officer_told, viewer_id=viewer_id))
    if token_use_due(record):
        later.append(functools.partial(token_used, record))
    run_later(later)
    return _rendered(record, snapshot, base)


# The console's `live.update` after first looks: at most one per session per ANNOUNCE_AFTER_S,
# listing everyone who came by then. When a camera goes live and the center opens it together,
# each first look no longer reads the session and its viewers and renders them for the console.
ANNOUNCE_AFTER_S = 0.1
_announcing: dict[str, asyncio.Task] = {}


def _announce_viewers(live_id: str) -> None:
    task = _announcing.get(live_id)
    if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
        _announcing[live_id] = start_soon(_announce(live_id))


async def _announce(live_id: str) -> None:
    try:
        await asyncio.sleep(ANNOUNCE_AFTER_S)
    finally:
        if _announcing.get(live_id) is asyncio.current_task():
            del _announcing[live_id]  # a first look from here on is announced by the next update
    try:
        await run_then_send(services.live_viewers_announce, session_id=live_id, executor=_FIRST_LOOK_THREADS)
    except Exception:
        log.exception("live: the console could not be told of new viewers of %s", live_id)


_playlist_in_thread = DatabaseSyncToAsync(_playlist, thread_sensitive=False)
# What first looks leave to threads takes turns in two threads of their own: the console's updates
# and, where first looks are not written from the loop (SQLite, or PostgreSQL out of reach), the
# whole first look (about 13 ms of CPU each through the ORM). When 200 viewers opened live views in
# the same second, six worker threads doing them at once held the GIL against the event loop that
# answers everyone else's polls and segments for seconds.
_FIRST_LOOK_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="live-first-look")


def _put_segment(token: str, live_id: str, name: str, body: bytes, duration: str | None):
    """None: the API view answers (not this session's camera, or a name already stored)."""
    found = selectors.camera_put_target(session_id=live_id, token_hash=hash_token(token), name=name)
    if found is None or found[1] or not token_matches(found[0].device, token):
        return None
    session = found[0]
    try:
        segment, created = services.segment_store(
            session=session, device=session.device, name=name, data=body, duration_header=duration, known_new=True
        )
    except ApplicationError as exc:
        return error_answer(exc)
    return json_answer(201 if created else 200, services.segment_data(segment))


class _InThread:
    """The PUT is left to _put_segment, in one of the cameras' threads."""


_IN_THREAD = _InThread()
_store_opened = False


async def _put_segment_async(token: str, live_id: str, name: str, body: bytes, duration: str | None):
    """On the event loop, no thread at all, where the database is PostgreSQL and the store S3 (the
    common case: services.segment_store_on_loop): a worker thread that stored a segment held the
    GIL against the loop that answers every viewer's poll of the process (and its own requests),
    and each switch between them made both wait. Else, and for anything that case does not cover,
    _put_segment in a thread. None: the API view answers."""
    global _store_opened
    on_loop = _store_opened and aiodb.available() and _store_takes_async_puts()
    answer = await _put_on_loop(token, live_id, name, body, duration) if on_loop else _IN_THREAD
    if answer is _IN_THREAD:
        answer = await _put_in_thread(token, live_id, name, body, duration)
        _store_opened = True  # get_storage() opened the store (once per process, a network call) in a thread
    return answer


def _store_takes_async_puts() -> bool:
    try:
        return hasattr(get_storage(), "put_small_async")
    except Exception:  # a store that cannot even be opened: the thread's path answers (a 503)
        return False


async def _put_on_loop(token: str, live_id: str, name: str, body: bytes, duration: str | None):
    statement = selectors.camera_put_statement(session_id=live_id, token_hash=hash_token(token), name=name)
    try:
        found = selectors.camera_put_found(await aiodb.fetchone(*statement))
    except Exception:  # not sent, or the connection lost under it: a read, done again in the thread
        log.warning("live: the camera's PUT could not be looked up from the event loop", exc_info=True)
        return _IN_THREAD
    if found is None or found[1] or not token_matches(found[0].device, token):
        return None
    try:
        stored = await services.segment_store_on_loop(session=found[0], name=name, data=body, duration_header=duration)
    except ApplicationError as exc:
        return error_answer(exc)
    if stored is None:
        return _IN_THREAD
    return json_answer(201, services.segment_data(stored[0]))


# The cameras' PUTs have threads of their own, so that a burst of other work sent to the loop's
# default pool never holds every thread a segment needs: when 200 viewers open live views in the
# same second, their first looks (each audited, counted and told to the officer) fill that pool.
_PUT_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="live-put")
_put_in_thread = DatabaseSyncToAsync(_put_segment, thread_sensitive=False, executor=_PUT_THREADS)
