"""A fast shared copy of what a playlist needs (a session's state and its latest segments), in
Redis when REDIS_URL is set, so a viewer's poll costs one Redis round trip instead of three
queries, in whichever daphne process it lands. The database stays the truth: the copy is written
after each commit, and a reader that finds no copy (embedded default, Redis flushed or away)
reads the database and fills it in.

Keys per session: `rtcc:live:<id>` (hash: state, expires_at, segment_seconds) and
`rtcc:live:<id>:segments` (sorted set: score = sequence, -1 for the init segment; member =
"sequence|duration|stored_at"). Both expire a while after the segments' retention.

Beside them, a short-lived copy of each segment's bytes, `rtcc:live:<id>:bytes:<name>`, written
before the segment is listed: the viewers of the other web processes fetch the newest segment
within a second or two of its PUT, and read it from Redis on the event loop instead of from
the object store in a worker thread (boto3's GET costs several milliseconds of CPU). Media
segments are kept `RTCC_LIVE_HOT_SECONDS` (10 s; about 125 MB of Redis for 50 cameras at
250 KB/s), the small init segment as long as the index. The store stays the truth: a reader that
finds no copy reads the store.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

from django.conf import settings

from apps.core.redisclients import shared_async_client, shared_client

from . import conf
from .models import LiveSession

log = logging.getLogger(__name__)


def _url() -> str | None:
    return getattr(settings, "RTCC_LIVE_INDEX_REDIS_URL", settings.ENV.redis_url)


def shares_redis_with_tokens() -> bool:
    """Whether the index lives in the Redis that also holds the token cache's generation."""
    url = _url()
    return bool(url) and url == settings.ENV.redis_url


def client():
    """The Redis client (the process's shared one, answers decoded), or None on the embedded default."""
    url = _url()
    return shared_client(url, decode_responses=True) if url else None


def _keys(session_id) -> tuple[str, str]:
    return f"rtcc:live:{session_id}", f"rtcc:live:{session_id}:segments"


def _ttl() -> int:
    return int(conf.retention().total_seconds()) + 3600


def _write(fn) -> None:
    redis = client()
    if redis is None:
        return
    try:
        fn(redis)
    except Exception:
        log.exception("live: the playlist index in Redis could not be written")


def state_changed(session) -> None:
    """After commit: the session's state as playlists need it."""
    state_key, _segments_key = _keys(session.pk)

    def write(redis):
        pipe = redis.pipeline(transaction=False)
        pipe.hset(
            state_key,
            mapping={
                "state": session.state,
                "expires_at": repr(session.expires_at.timestamp()),
                "segment_seconds": session.segment_seconds,
            },
        )
        pipe.expire(state_key, _ttl())
        pipe.execute()

    _write(write)


def _bytes_key(session_id, name: str) -> str:
    return f"rtcc:live:{session_id}:bytes:{name}"


def _name(sequence: int | None) -> str:
    return "init.mp4" if sequence is None else f"{sequence}.m4s"


def _queue_added(pipe, session_id, sequence: int | None, duration: float | None, stored_at: datetime, data) -> None:
    _, segments_key = _keys(session_id)
    score = -1 if sequence is None else sequence
    member = f"{score}|{duration or 0!r}|{stored_at.timestamp()!r}"
    hot = _ttl() if sequence is None else conf.hot_seconds()
    if data is not None and hot > 0 and len(data) <= conf.HOT_MAX_BYTES:
        pipe.set(_bytes_key(session_id, _name(sequence)), data, ex=hot)
    pipe.zadd(segments_key, {member: score})
    pipe.expire(segments_key, _ttl())


def segment_added(
    session_id, *, sequence: int | None, duration: float | None, stored_at: datetime, data: bytes | None = None
) -> None:
    """After commit: one more stored segment (with `data`, its bytes too, for the other processes'
    viewers; written first, so that a viewer who sees the segment listed finds them)."""

    def write(redis):
        pipe = redis.pipeline(transaction=False)
        _queue_added(pipe, session_id, sequence, duration, stored_at, data)
        pipe.execute()

    _write(write)


async def segment_added_async(
    session_id, *, sequence: int | None, duration: float | None, stored_at: datetime, data: bytes | None = None
) -> None:
    """As segment_added(), from async code without a thread."""
    url = _url()
    if not url:
        return
    try:
        pipe = shared_async_client(url).pipeline(transaction=False)
        _queue_added(pipe, session_id, sequence, duration, stored_at, data)
        await pipe.execute()
    except Exception:
        log.exception("live: the playlist index in Redis could not be written")


def segment_removed(session_id, *, sequence: int | None) -> None:
    _, segments_key = _keys(session_id)
    score = -1 if sequence is None else sequence

    def write(redis):
        pipe = redis.pipeline(transaction=False)
        pipe.zremrangebyscore(segments_key, score, score)
        pipe.delete(_bytes_key(session_id, _name(sequence)))
        pipe.execute()

    _write(write)


def segment_bytes(session_id, name: str) -> bytes | None:
    """The Redis copy of a segment's bytes, or None (none kept, expired, or no Redis)."""
    url = _url()
    if not url:
        return None
    try:
        return shared_client(url).get(_bytes_key(session_id, name))
    except Exception:
        log.warning("live: the segment copy in Redis could not be read; reading the store", exc_info=True)
        return None


async def segment_bytes_async(session_id, name: str) -> bytes | None:
    """As segment_bytes(), from async code without a thread."""
    url = _url()
    if not url:
        return None
    try:
        return await shared_async_client(url).get(_bytes_key(session_id, name))
    except Exception:
        log.warning("live: the segment copy in Redis could not be read (async); reading the store", exc_info=True)
        return None


def _queue_read(pipe, session_id, count: int) -> None:
    state_key, segments_key = _keys(session_id)
    pipe.hgetall(state_key)
    pipe.zrevrangebyscore(segments_key, "+inf", 0, start=0, num=count)
    pipe.zcount(segments_key, -1, -1)


def _parsed(session_id, state: dict, members: list, has_init: int):
    if not state:
        return None
    segments = []
    for member in reversed(members):
        sequence, duration, stored = member.split("|")
        segments.append(
            SimpleNamespace(
                sequence=int(sequence),
                name=f"{int(sequence)}.m4s",
                duration=float(duration),
                stored_at=datetime.fromtimestamp(float(stored), tz=UTC),
            )
        )
    session = LiveSession(
        id=session_id,
        state=state["state"],
        expires_at=datetime.fromtimestamp(float(state["expires_at"]), tz=UTC),
        segment_seconds=int(state["segment_seconds"]),
    )
    session.playlist = {f: int(state[f]) for f in PLAYLIST_FIELDS if f in state}  # type: ignore[attr-defined]
    return session, bool(has_init), segments


# What a playlist of the session may never go back on (apps/live/playlist.py), each only ever
# raised: `floor`, the first sequence number a playlist listed (the media sequence never goes back
# below it), and `target`, the target duration (RFC 8216 lets it never change; here it never goes
# down, and rises only for a segment longer than any before). Kept in the session's hash, shared
# by every web process, and in this process (the embedded default has no Redis; a Redis read that
# failed falls back to it).
_RAISED: OrderedDict[tuple[str, str], int] = OrderedDict()
_RAISED_KEPT = 20_000
_RAISED_LOCK = threading.Lock()
_RAISED_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-playlist")
PLAYLIST_FIELDS = ("floor", "target")
# Raised only where the session's hash exists (a hash holding nothing but these would read as a
# session with no state).
_RAISE = """
if redis.call('EXISTS', KEYS[1]) == 1
   and tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1') < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
"""


def raised(session, field: str) -> int | None:
    """The highest value of a playlist field (`floor` or `target`) so far, or None."""
    known = [
        value
        for value in ((getattr(session, "playlist", None) or {}).get(field), _RAISED.get((str(session.pk), field)))
        if value is not None
    ]
    return max(known) if known else None


def raise_to(session_id, field: str, value: int) -> None:
    """A playlist went as far as `value` (here at once, in Redis from a thread of its own:
    playlists are rendered on the event loop too): no later one goes back on it."""
    key = (str(session_id), field)
    with _RAISED_LOCK:  # playlists are rendered on the loop and in threads alike
        if _RAISED.get(key, -1) < value:
            _RAISED[key] = value
            _RAISED.move_to_end(key)
            while len(_RAISED) > _RAISED_KEPT:
                _RAISED.popitem(last=False)
    if client() is not None:
        state_key, _ = _keys(session_id)
        _RAISED_WRITER.submit(_write, lambda redis: redis.eval(_RAISE, 1, state_key, field, value))


def read(session_id, *, count: int):
    """(session-like, has_init, [segment-like, oldest first]) from Redis, or None to read the database.

    The session-like object carries `pk`, `state`, `expires_at`, `segment_seconds`, `is_open`, `path`;
    each segment-like one `sequence`, `duration`, `stored_at`, `name`.
    """
    redis = client()
    if redis is None:
        return None
    try:
        pipe = redis.pipeline(transaction=False)
        _queue_read(pipe, session_id, count)
        return _parsed(session_id, *pipe.execute())
    except Exception:
        log.exception("live: the playlist index in Redis could not be read; reading the database")
        return None


async def read_async(session_id, *, count: int, also: tuple[str, ...] = ()):
    """As read(), from async code without a thread, with the keys in `also` read (GET) in the same
    round trip: (their values, the snapshot). (None, None) when Redis does not answer; the caller
    then takes the way through the database."""
    url = _url()
    if not url:
        return None, None
    try:
        pipe = shared_async_client(url, decode_responses=True).pipeline(transaction=False)
        for key in also:
            pipe.get(key)
        _queue_read(pipe, session_id, count)
        answers = await pipe.execute()
    except Exception:
        log.warning("live: the playlist index in Redis could not be read (async)", exc_info=True)
        return None, None
    return answers[: len(also)], _parsed(session_id, *answers[len(also) :])


def fill(*, session, init, segments) -> None:
    """After a reader found no copy: what it read from the database, for the next reader."""
    if client() is None:
        return
    if init is not None:
        segment_added(session.pk, sequence=None, duration=None, stored_at=init.stored_at)
    for segment in segments:
        segment_added(session.pk, sequence=segment.sequence, duration=segment.duration, stored_at=segment.stored_at)
    state_changed(session)  # last: a reader that sees the state also sees the segments
