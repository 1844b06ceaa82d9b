"""DRF authentication for people: bearer API tokens, and the console's session.

A bearer token is looked up in the database once, then served from a small per-process cache
for a few seconds (`RTCC_TOKEN_CACHE_SECONDS`): an API call needs no database round trip just to
know who calls. Revocation is still seen at once: every change to a person or a token (a
revoke, a logout, a deactivation, a new password or role, the admin site) moves a generation
counter in Redis at once and after commit, and a cached token is used only
while the generation it was read under is still the current one; the counter is read on every
request (one Redis GET, no database). Without Redis (the embedded default), or when it cannot be
read, every request goes to the database, as before.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time
from collections import OrderedDict

import psycopg
from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from apps.core import aiodb
from apps.core.redisclients import shared_async_client, shared_client
from apps.core.rows import Columns

from .models import ApiToken, Role, User
from .tokens import USER_PREFIX, bearer_from_header, hash_token, same_hash

log = logging.getLogger(__name__)

GENERATION_KEY = "rtcc:auth:generation"
CACHE_MAX = 10_000  # tokens kept per process (least recently used dropped first)
LAST_USED_RESOLUTION_S = 60  # last_used_at is written at most this often per token

_cached: OrderedDict[str, tuple[ApiToken, int, float]] = OrderedDict()
_lock = threading.Lock()


def _cache_seconds() -> float:
    return float(getattr(settings, "RTCC_TOKEN_CACHE_SECONDS", 10))


def _shared():
    """A process-wide Redis client for the generation (Django's cache opens a client, and a
    connection, per request context), or None without REDIS_URL."""
    url = settings.ENV.redis_url
    return shared_client(url) if url else None


def _generation() -> int | None:
    """The current generation, or None when it cannot be read (then: no caching)."""
    client = _shared()
    if client is None:
        # Without Redis no other process could tell this one of a change (a second process on
        # the same database, a management command): every request asks the database.
        return None
    try:
        return int(client.get(GENERATION_KEY) or 0)
    except Exception as exc:  # Redis down: the database answers every request meanwhile
        log.warning("token cache: generation unreadable, using the database: %s", exc)
        return None


def _bump() -> None:
    with _lock:  # this process at least forgets at once, whatever Redis did
        _cached.clear()
    client = _shared()
    if client is None:
        return
    try:
        client.incr(GENERATION_KEY)
    except Exception:
        log.exception("token cache: could not move the generation; cached tokens expire within seconds")


def credentials_changed() -> None:
    """A person or a token changed: cached tokens are not used again, from now on and once more
    after this transaction commits (a request in between may have read the old row and cached it
    under the new generation). Model saves and deletes call it by signal (apps.py); services that
    change people or tokens with queryset updates call it themselves."""
    _bump()
    transaction.on_commit(_bump)


def _usable(record: ApiToken) -> bool:
    return record.is_usable and record.user.is_active


def _from_cache(digest: str, generation: int | None) -> ApiToken | None:
    """The cached record for this digest if it is still valid at `generation`, else None;
    `generation` None: at whatever generation it was read (for token_cached_unconfirmed)."""
    with _lock:
        entry = _cached.get(digest)
        if entry is None:
            return None
        record, at_generation, cached_at = entry
        fresh = time.monotonic() - cached_at < _cache_seconds()
        if fresh and (generation is None or at_generation == generation):
            _cached.move_to_end(digest)
            # A copy per request: views may change what they get (and never another's).
            found = copy.copy(record)
            found.user = copy.copy(record.user)
            return found
        if not fresh or generation is not None:
            del _cached[digest]
        return None


def _lookup(digest: str) -> ApiToken | None:
    """The token record (with its user) for this digest: from the cache when still valid, else
    from the database (and cached). None: no such token."""
    generation = _generation()  # read BEFORE the database: a change committed after it moves it
    if generation is not None:
        found = _from_cache(digest, generation)
        if found is not None:
            return found
    stored = ApiToken.objects.select_related("user").filter(key_hash=digest).first()
    return _remembered(stored, digest, generation)


def _remembered(stored: ApiToken | None, digest: str, generation: int | None) -> ApiToken | None:
    """The record the database gave for this digest (its hash compared in constant time), cached
    under `generation` (read before the database) when it is usable."""
    if stored is None or not same_hash(stored.key_hash, digest):
        return None
    if generation is not None and _usable(stored):
        with _lock:
            _cached[digest] = (copy.copy(stored), generation, time.monotonic())
            _cached[digest][0].user = copy.copy(stored.user)
            while len(_cached) > CACHE_MAX:
                _cached.popitem(last=False)
    return stored


def _touch(record: ApiToken, digest: str) -> None:
    now = timezone.now()
    if token_use_due(record):
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
        record.last_used_at = now
        with _lock:
            entry = _cached.get(digest)
            if entry is not None:
                entry[0].last_used_at = now


def token_used(record: ApiToken) -> None:
    """Records that the token was used now (at most once a minute, as every API call does); for
    code that authenticated it without the API (the live playlist's fast path)."""
    _touch(record, record.key_hash)


def token_use_due(record: ApiToken) -> bool:
    return (
        record.last_used_at is None or (timezone.now() - record.last_used_at).total_seconds() > LAST_USED_RESOLUTION_S
    )


class UserTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer rtu_...`. Other bearer tokens are left to the next class."""

    keyword = "Bearer"

    def authenticate(self, request):
        token = bearer_from_header(authentication.get_authorization_header(request))
        if token is None or not token.startswith(USER_PREFIX):
            return None
        digest = hash_token(token)
        record = _lookup(digest)
        if record is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not _usable(record):
            raise exceptions.AuthenticationFailed("Token expired or revoked.")
        _touch(record, digest)
        return record.user, record

    def authenticate_header(self, request):
        return self.keyword


class ConsoleSessionAuthentication(authentication.SessionAuthentication):
    """The console's Django session, with CSRF enforced on unsafe methods."""


def token_for_bearer(token: str) -> ApiToken | None:
    """For websockets and ASGI fast paths: the usable API token behind a bearer string (from the
    cache, as for the API), or None."""
    if not token or not token.startswith(USER_PREFIX):
        return None
    record = _lookup(hash_token(token))
    if record is None or not _usable(record):
        return None
    return record


def token_cached_unconfirmed(token: str) -> ApiToken | None:
    """The usable token record this process cached for this bearer string in the last
    RTCC_TOKEN_CACHE_SECONDS, WITHOUT reading the generation (no Redis round trip), else None.

    Only for a caller whose own write confirms the token and its person in the database, in the
    same statement (token_confirmed_sql): a revocation, a deactivation or a new role since the
    record was cached then makes that statement write nothing. The command fast path does, so
    an operator's command waits for no round trip to Redis before it is stored."""
    if not token or not token.startswith(USER_PREFIX):
        return None
    record = _from_cache(hash_token(token), None)
    return record if record is not None and _usable(record) else None


def token_confirmed_sql(record: ApiToken, roles: tuple[str, ...]) -> tuple[str, list]:
    """(SQL condition, params): true while this token is unrevoked and unexpired and its person
    active with one of these effective roles (User.effective_role: a superuser acts as IT), read
    in the statement it is part of: what a cached record (token_cached_unconfirmed) is confirmed by."""
    q = connection.ops.quote_name
    token_table, user_table = q(ApiToken._meta.db_table), q(User._meta.db_table)
    sql = (
        f"EXISTS (SELECT 1 FROM {token_table} t JOIN {user_table} u ON u.id = t.user_id"  # noqa: S608
        " WHERE t.id = %s AND t.key_hash = %s AND t.revoked_at IS NULL AND t.expires_at > now()"
        " AND u.is_active AND (CASE WHEN u.is_superuser THEN %s ELSE u.role END) = ANY(%s))"
    )
    return sql, [record.pk, record.key_hash, Role.IT.value, list(roles)]


_UNREAD = object()
_token_in_thread = DatabaseSyncToAsync(token_for_bearer, thread_sensitive=False)


async def token_for_bearer_async(token: str, generation=_UNREAD) -> ApiToken | None:
    """As token_for_bearer(), from async code: this process's cache, else the database, read on
    the event loop with no worker thread where it can be (PostgreSQL reachable from here: one
    statement over psycopg's async connection, apps/core/aiodb.py), else in a worker thread.

    A viewer's playlist poll or an operator's command whose token has just left this process's
    cache (every RTCC_TOKEN_CACHE_SECONDS) no longer waits for a thread and the GIL behind the
    event loop. `generation`: what a caller's own GET of GENERATION_KEY returned (in a pipeline
    with what else it reads from Redis); else it is read here."""
    if not token or not token.startswith(USER_PREFIX):
        return None
    # The caller's GET gave None when the counter was never moved: its start, as _generation() reads it.
    generation = await _generation_async() if generation is _UNREAD else int(generation or 0)
    digest = hash_token(token)
    if generation is not None:
        found = _from_cache(digest, generation)
        if found is not None:
            return found if _usable(found) else None
    if not aiodb.available():
        return await _token_in_thread(token)
    sql, token_columns, user_columns = _token_sql()
    try:
        row = await aiodb.fetchone(sql, [digest])
    except (aiodb.NotStarted, psycopg.Error) as exc:  # the way through Django's connection decides
        log.warning("token lookup from the event loop failed, asking in a thread: %s", exc)
        return await _token_in_thread(token)
    stored = None
    if row is not None:
        split = len(token_columns.sql)
        stored = token_columns.instance(row[:split])
        stored.user = user_columns.instance(row[split:])
    record = _remembered(stored, digest, generation)
    return record if record is not None and _usable(record) else None


async def _generation_async() -> int | None:
    """As _generation(), on the event loop."""
    url = settings.ENV.redis_url
    if not url:
        return None
    try:
        return int(await shared_async_client(url).get(GENERATION_KEY) or 0)
    except Exception as exc:
        log.warning("token cache: generation unreadable (async), using the database: %s", exc)
        return None


@functools.cache
def _token_sql() -> tuple[str, Columns, Columns]:
    """The token and its person in one statement, from the models' own columns (as the ORM's
    select_related("user") reads them)."""
    q = connection.ops.quote_name
    token_columns, user_columns = Columns(ApiToken, "t"), Columns(User, "u")
    token_table, user_table = q(ApiToken._meta.db_table), q(User._meta.db_table)
    # Every name is the models' own, quoted; the value is a parameter.
    sql = f"SELECT {', '.join(token_columns.sql + user_columns.sql)} FROM {token_table} t"  # noqa: S608
    sql += f" JOIN {user_table} u ON u.id = t.user_id WHERE t.key_hash = %s"
    return sql, token_columns, user_columns
