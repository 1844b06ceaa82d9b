"""Request-body limits enforced while the body streams in, inside daphne, before any of it is
buffered for the application: daphne (on Twisted) otherwise receives a whole body, spooling it
to disk and then into memory, before the app can refuse it.

`install()` (called from rtcc.asgi) wraps daphne's request class:
- once the headers are in, a body declared larger than the path's limit is refused (413), and a
  path with a guard (a signed upload URL) is authorized first (403 before any byte is read);
- as the body streams (Content-Length or chunked), a body passing the limit is cut off (413).
`ChunkedBodyApp` then gives a chunked body (no Content-Length) a Content-Length, so Django and
DRF read it instead of taking it as empty.
"""

from __future__ import annotations

import json
import logging
import re
from io import BytesIO
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


def limit_for(path: str) -> int:
    """The first of RTCC_BODY_LIMITS that matches: a path prefix, or a regular expression (a key
    starting with ^) for a path with an id inside; else RTCC_MAX_JSON_BODY."""
    for prefix, size in settings.RTCC_BODY_LIMITS.items():
        if path.startswith(prefix) or (prefix.startswith("^") and re.match(prefix, path)):
            return size
    return settings.RTCC_MAX_JSON_BODY


def grown_code(path: str) -> str:
    """The error code for a body sent without a length that grew past the path's limit."""
    for prefix, code in getattr(settings, "RTCC_BODY_GROWN_CODES", {}).items():
        if path.startswith(prefix):
            return code
    return "too_large"


def decide(path: str) -> tuple[int, str, str] | int:
    """The body limit for this path, or (status, code, message) to refuse it before reading."""
    for prefix, guard in settings.RTCC_BODY_GUARDS.items():
        if path.startswith(prefix):
            verdict = import_string(guard)(path)
            if verdict is not None:
                return verdict
    return limit_for(path)


def _envelope(status: int, code: str, message: str) -> bytes:
    reason = {
        400: b"Bad Request",
        403: b"Forbidden",
        413: b"Payload Too Large",
        431: b"Request Header Fields Too Large",
    }.get(status, b"Error")
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (
        status,
        reason,
        len(body),
        body,
    )


_installed = False

# A body up to this size is kept in memory while it arrives, and handed to the application in
# pieces of up to this size. Twisted spools every body from 100,000 bytes on to a temporary file
# and daphne reads it back in 8 KiB messages: a live segment of 250 KB was a file written and
# read again and 31 messages through the application's queue, on the event loop that serves
# every socket of the process. Larger bodies (clips sent to the embedded store) still go to disk.
IN_MEMORY_BODY = 1024 * 1024


def install() -> None:
    """Wraps daphne's WebRequest (once per process)."""
    global _installed
    if _installed:
        return
    from daphne.http_protocol import WebRequest  # type: ignore[import-untyped]

    original_got_length = WebRequest.gotLength
    original_chunk = WebRequest.handleContentChunk
    original_process = WebRequest.process

    def refuse(self, status: int, code: str, message: str) -> None:
        from twisted.internet import reactor as installed  # daphne's, installed by the time a request arrives

        reactor: Any = installed
        self._rtcc_refused = True
        transport = self.channel.transport
        transport.write(_envelope(status, code, message))
        # Stop reading what the client still sends; close once the answer has had time to leave
        # (closing at once with unread input would reset the connection under the answer).
        self.channel.pauseProducing()
        reactor.callLater(0.5, transport.loseConnection)

    def got_length(self, length):
        raw_path = getattr(self.channel, "_path", b"") or b""
        path = unquote(urlsplit(raw_path.decode("latin-1")).path)
        verdict = decide(path)
        if isinstance(verdict, tuple):
            refuse(self, *verdict)
            return original_got_length(self, 0)
        self._rtcc_limit, self._rtcc_seen, self._rtcc_path = verdict, 0, path
        if length is not None and length > verdict:
            refuse(self, 413, "too_large", f"The request body is over the limit of {verdict} bytes.")
            return original_got_length(self, 0)
        if length is not None and length <= IN_MEMORY_BODY:
            self.content = BytesIO()
            return None
        return original_got_length(self, length)

    def handle_chunk(self, data):
        if getattr(self, "_rtcc_refused", False):
            return None
        self._rtcc_seen = getattr(self, "_rtcc_seen", 0) + len(data)
        limit = getattr(self, "_rtcc_limit", None)
        if limit is not None and self._rtcc_seen > limit:
            code = grown_code(getattr(self, "_rtcc_path", ""))
            refuse(self, 413, code, f"The request body is over the limit of {limit} bytes.")
            return None
        return original_chunk(self, data)

    def process(self):
        if getattr(self, "_rtcc_refused", False):
            return None
        if self.server.request_buffer_size < IN_MEMORY_BODY:  # daphne's default: 8 KiB messages
            self.server.request_buffer_size = IN_MEMORY_BODY
        return original_process(self)

    WebRequest.gotLength = got_length
    WebRequest.handleContentChunk = handle_chunk
    WebRequest.process = process
    _answer_bad_http_in_the_envelope()
    _installed = True


def _answer_bad_http_in_the_envelope() -> None:
    """A request Twisted cannot read as HTTP (a Content-Length that is not a number, a malformed
    header or request line, a broken chunk) is refused by Twisted itself, before daphne or the app
    sees it, with a bare `400` and no body. It now gets the contract's JSON envelope, like every
    other 4xx (`400 bad_request`), then the connection is closed as Twisted closes it. A request
    line or header over Twisted's line limit (16 KiB), which Twisted closed without a word, gets
    `431 request_too_large`."""
    from twisted.web.http import HTTPChannel

    if not hasattr(HTTPChannel, "_respondToBadRequestAndDisconnect"):  # another Twisted: its bare 400 stays
        return

    def respond_to_bad_request_and_disconnect(self) -> None:
        self.transport.write(_envelope(400, "bad_request", "The request is not valid HTTP/1.1."))
        self.loseConnection()

    HTTPChannel._respondToBadRequestAndDisconnect = respond_to_bad_request_and_disconnect  # type: ignore[method-assign]

    def line_length_exceeded(self, line: bytes) -> None:
        # A request line or header over Twisted's 16 KiB: the connection was closed with no word.
        self.transport.write(
            _envelope(
                431,
                "request_too_large",
                f"The request line or a header is longer than {self.MAX_LENGTH} bytes.",
            )
        )
        self.loseConnection()

    HTTPChannel.lineLengthExceeded = line_length_exceeded  # type: ignore[method-assign]


class ChunkedBodyApp:
    """A body sent without Content-Length (chunked) reaches Django with its length stated; daphne
    has already received it whole, within the limit enforced above."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        names = {name.lower() for name, _value in scope.get("headers", [])}
        if b"content-length" in names:
            return await self.app(scope, receive, send)
        limit = limit_for(scope.get("path", ""))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            size += len(body)
            if size > limit:  # a server without the streaming guard (tests, other servers)
                code = grown_code(scope.get("path", ""))
                await _answer(send, 413, code, f"The request body is over the limit of {limit} bytes.")
                return None
            chunks.append(body)
            if not message.get("more_body", False):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"transfer-encoding"]
        headers.append((b"content-length", str(size).encode()))
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed():
            return replay.pop() if replay else await receive()

        return await self.app({**scope, "headers": headers}, replayed, send)


async def _answer(send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
