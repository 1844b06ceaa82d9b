"""A request id on every answer and on every log line written while serving it.

A user who reports "the console said server error at 03:12" or a firmware author with a 503 in
their device log can quote the id of that answer (`X-Request-ID`), and whoever runs rtcc finds
the lines it wrote for that request, the worker's lines for the tasks it queued included. Two
web processes, a worker and a thousand sockets write into the same logs at once: without the id
no line can be tied to the request that caused it.

- `RequestId` (the outermost ASGI layer, rtcc/asgi.py) takes the `X-Request-ID` a proxy or client
  sent when it is a plain token (letters, digits, `.`, `_`, `:`, `-`, at most 128 characters),
  else makes one (32 hex digits), holds it for everything that runs for the request (a
  contextvar: the fast paths, Django's thread, the tasks it starts), and writes it into the
  answer's headers. A websocket gets one for its whole connection, in the log only.
- `WithRequestId`, a filter on the log handler (rtcc/settings), writes `[id] ` before the message
  of a line written for a request, and nothing before any other.
- Celery: the id travels in the task message's headers (`rtcc_request_id`) and is held while the
  task runs, so that a clip's verification logs the id of the `complete` that queued it.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from celery.signals import before_task_publish, task_postrun, task_prerun

HEADER = b"x-request-id"
TASK_HEADER = "rtcc_request_id"
_VALID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
current: ContextVar[str | None] = ContextVar("rtcc_request_id", default=None)


def request_id_of(headers) -> str:
    """The caller's X-Request-ID when it is a plain token, else a new id."""
    for name, value in headers:
        if name.lower() == HEADER:
            if _VALID.fullmatch(value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


class RequestId:
    """ASGI: the request's id held for everything it runs, and sent back in `X-Request-ID`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        rid = request_id_of(scope.get("headers") or ())
        token = current.set(rid)
        try:
            if scope["type"] == "websocket":
                return await self.app(scope, receive, send)
            header = (HEADER, rid.encode("ascii"))

            async def send_with_id(message) -> None:
                if message["type"] == "http.response.start":
                    headers = [h for h in message.get("headers") or () if h[0].lower() != HEADER]
                    message = {**message, "headers": [*headers, header]}
                await send(message)

            return await self.app(scope, receive, send_with_id)
        finally:
            current.reset(token)


class WithRequestId(logging.Filter):
    """`record.request_tag` is `[id] ` for a line written while serving a request, else empty."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = current.get()
        record.request_tag = f"[{rid}] " if rid else ""
        return True


@before_task_publish.connect
def _carry_to_task(headers=None, **kwargs) -> None:
    rid = current.get()
    if rid and headers is not None:
        headers[TASK_HEADER] = rid


_task_tokens: dict[str, object] = {}


@task_prerun.connect
def _hold_in_task(task_id=None, task=None, **kwargs) -> None:
    rid = getattr(task.request, TASK_HEADER, None) if task is not None else None
    if rid and isinstance(rid, str) and _VALID.fullmatch(rid.encode("ascii", "replace")) and task_id:
        _task_tokens[task_id] = current.set(rid)


@task_postrun.connect
def _release_in_task(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        try:
            current.reset(token)  # type: ignore[arg-type]
        except ValueError:  # set in another context (a thread pool's): leave it to that context
            current.set(None)
