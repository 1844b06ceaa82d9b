"""What the ASGI fast paths share (apps/live/fastpath.py, apps/control/fastpath.py): requests
answered before Django's request machinery when they are the common case, and handed to Django
unchanged (the body replayed) when they are anything else, so that errors keep one source.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from .errors import ApplicationError, envelope, error_body
from .middleware import DB_RETRY_AFTER_S, STATUS_CODES
from .retry import DB_ERRORS

log = logging.getLogger(__name__)

# What the middleware gives every API answer (apps/core/middleware.py, Django's own).
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

Receive = Callable[[], Awaitable[dict]]


def headers_of(scope) -> dict[bytes, bytes] | None:
    """The request's headers by name (lower case, as the ASGI server gives them), or None when a
    name is repeated: Django joins repeated headers with a comma and the view answers as it reads
    them (two Authorization headers are a 401 there), where a fast path reading one of the values
    answered otherwise (authenticated by the last). Such a request goes to the view."""
    raw = scope.get("headers") or []
    headers = dict(raw)
    return headers if len(headers) == len(raw) else None


def query_of(scope) -> dict[str, str] | None:
    """The query string's parameters, or None when one is repeated or blank-named (the view then
    answers: a repeated parameter is a 400 there)."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    query = dict(pairs)
    return query if len(query) == len(pairs) and "" not in query else None


_JSON_KINDS = (b"application/json", b"application/*", b"*/*", b"")


def accepts_json(accept: bytes | None) -> bool:
    """Whether the answer may be JSON without content negotiation (else DRF negotiates: 406)."""
    return accept is None or any(kind.split(b";")[0].strip() in _JSON_KINDS for kind in accept.split(b","))


def utf8_json(content_type: bytes | None) -> bool:
    """Whether the body is declared JSON as the view's parser takes it (`application/json`) in
    UTF-8 (no charset, or utf-8): `application/jsonx` goes to the view, a 415; another charset to
    the view too, which decodes the body in it (the fast path read every body as UTF-8)."""
    if content_type is None:
        return False
    kind, *params = content_type.split(b";")
    if kind.strip().lower() != b"application/json":
        return False
    for param in params:
        name, _, value = param.partition(b"=")
        if name.strip().lower() == b"charset" and value.strip().strip(b'"').lower() not in (b"utf-8", b"utf8"):
            return False
    return True


def allowed_host(headers: dict[bytes, bytes]) -> str | None:
    """The Host header when settings.ALLOWED_HOSTS admits it, else None (Django answers)."""
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return host


def declared_length(headers: dict[bytes, bytes], limit: int) -> int | None:
    """The request's Content-Length when it is given and at most `limit`, else None."""
    raw = headers.get(b"content-length", b"")
    return int(raw) if raw.isdigit() and int(raw) <= limit else None


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool] | None:
    """The whole request body, and whether it stayed within `limit` (reading stops past it);
    None when the client went away."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False) and size <= limit
    return b"".join(chunks), size <= limit


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives Django the body already read, then the connection's own messages."""
    replayed = False

    async def replay() -> dict:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def respond(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def json_answer(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of a JSON answer as DRF's JSONRenderer writes it (compact, UTF-8,
    U+2028/U+2029 escaped), with the headers every API answer carries and `headers`."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    data = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
    return (
        status,
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            *SECURITY_HEADERS,
            *((key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in (headers or {}).items()),
        ],
        data,
    )


async def respond_json(send, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    await respond(send, *json_answer(status, payload, headers))


def error_answer(exc: ApplicationError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A domain error as the API's exception handler renders it: envelope, extra keys, headers."""
    return json_answer(exc.status, error_body(exc), exc.headers)


def run_jobs(jobs: list[Callable[[], None]]) -> None:
    """Runs sync bookkeeping jobs here and now; a failure is logged, never raised."""
    for job in jobs:
        try:
            job()
        except Exception:  # bookkeeping (a last-used time): the next one catches up
            log.warning("a fast path's bookkeeping write failed", exc_info=True)


_run_in_thread = DatabaseSyncToAsync(run_jobs, thread_sensitive=False)
_background: set[asyncio.Task] = set()


def run_later(jobs: list[Callable[[], None]]) -> None:
    """Runs sync bookkeeping jobs in a worker thread, off the request path; failures are logged."""
    if jobs:
        start_soon(_run_in_thread(jobs))


def start_soon(work: Coroutine[Any, Any, Any]) -> asyncio.Task:
    """Runs `work` on this event loop, off the request path (it logs its own failures)."""
    task = asyncio.get_running_loop().create_task(work)
    _background.add(task)  # held until done (the loop keeps only a weak reference)
    task.add_done_callback(_background.discard)
    return task


async def background_settled() -> None:
    """Waits until what this loop started off the request path is done (tests)."""
    loop = asyncio.get_running_loop()
    while mine := [task for task in _background if task.get_loop() is loop and not task.done()]:
        await asyncio.gather(*mine, return_exceptions=True)


# The database down or failing over, as Django's ORM and psycopg (the event loop's own statements,
# and the pools of both) raise it.
DATABASE_DOWN = (*DB_ERRORS, psycopg.OperationalError, psycopg.InterfaceError)


class DatabaseDownAnswer:
    """Around the fast paths: a database error that escapes one before it answered is the API's
    `503 unavailable` with Retry-After, as Django's middleware answers it for a view
    (apps/core/middleware.py), never daphne's own 500 page. A command POST whose token had to be
    read while PostgreSQL was down was that 500."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except DATABASE_DOWN as exc:
            if started:
                raise
            log.warning("database unavailable on %s %s: %s", scope.get("method"), scope.get("path"), exc)
            await respond_unavailable(send)


async def respond_unavailable(send) -> None:
    """The database cannot serve this request: `503 unavailable` with Retry-After, as Django's
    middleware answers it for a view (apps/core/middleware.py: unavailable)."""
    code, message = STATUS_CODES[503]
    await respond_json(send, 503, envelope(code, message), {"Retry-After": str(DB_RETRY_AFTER_S)})
