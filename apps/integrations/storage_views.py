"""The disk backend's byte endpoints, rtcc's stand-in for S3's presigned URLs (mounted at the site
root, not under /api/: the URL itself is the credential).

- `PUT /upload/<token>`: one multipart part, streamed to disk in bounded chunks (daphne's ASGI
  handler has spooled it to a temporary file).
- `GET|HEAD /download/<token>`: the object, streamed (never whole in memory), with single-range
  support (206, Content-Range; 416 outside the object) so a browser's <video> can seek.

The app that owns a key prefix registers an `ObjectGuard` (apps.integrations.storage) to say
whether an upload is still open, whether an object may be served and with which ETag, and to
record a download (footage audits one per clip). This module imports no feature app.
"""

from __future__ import annotations

import hashlib
import re
import time

from asgiref.sync import sync_to_async
from django.core import signing
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from apps.core.errors import (
    ApplicationError,
    Conflict,
    InvalidInput,
    NotFound,
    application_error_response,
    error_response,
)

from .storage import (
    DOWNLOAD_SALT,
    DiskStorage,
    NoSuchUploadError,
    ObjectMissingError,
    PartLengthError,
    StorageUnavailableError,
    get_storage,
    guard_for,
    read_upload_token,
    unavailable_on_failure,
)

# PUT /upload/<token> ---------------------------------------------------------------------------


@csrf_exempt
def upload_part(request: HttpRequest, token: str):
    if request.method != "PUT":
        response = error_response(405, "method_not_allowed", "PUT the part's bytes to this URL.")
        response["Allow"] = "PUT"
        return response
    grant = read_upload_token(token)
    if grant is None:
        return error_response(403, "invalid_or_expired_url", "This upload URL is not valid or has expired.")
    raw = request.META.get("CONTENT_LENGTH")
    content_length = int(raw) if raw and raw.isdigit() else None
    key, upload_id, number, length = grant["key"], grant["upload_id"], grant["number"], grant["length"]
    try:
        guard = guard_for(key)
        if guard is not None:
            guard.check_upload(key=key, upload_id=upload_id)
        if content_length is not None and content_length != length:
            raise InvalidInput(
                f"Part {number} must be exactly {length} bytes, not {content_length}.", code="wrong_part_length"
            )
        # A disk that fails (full, read-only, gone) is a 503 with Retry-After: the part again later.
        with unavailable_on_failure():
            storage = get_storage()
            if not isinstance(storage, DiskStorage):  # S3 takes its parts itself
                raise NotFound("No such upload.")
            try:
                part = storage.multipart_write_part(key, upload_id, number, request, length=length)
            except PartLengthError as exc:
                raise InvalidInput(str(exc), code="wrong_part_length") from None
            except NoSuchUploadError:
                raise Conflict("The upload is closed.", code="clip_not_uploading") from None
    except ApplicationError as exc:
        return application_error_response(exc)
    response = JsonResponse({"number": part.number, "size": part.size})
    response["ETag"] = f'"part-{part.number}-{part.size}"'
    return response


# GET|HEAD /download/<token> --------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a single `Range: bytes=...` header; None to send the whole object.

    Several ranges, another unit, or a range that is not valid (`bytes=x-y`, `bytes=500-100`) are
    ignored, as RFC 9110 (14.2) lets a server do (the whole object is a valid answer); a valid
    range that lies outside the object is Unsatisfiable (416).
    """
    if not header:
        return None
    header = header.strip().replace(" ", "")
    if not header.startswith("bytes=") or "," in header:
        return None
    match = _RANGE.match(header)
    if not match or (match[1] == "" and match[2] == "") or (match[1] and match[2] and int(match[2]) < int(match[1])):
        return None
    first, last = match[1], match[2]
    if first == "":  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - count), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size:
        raise Unsatisfiable(header)
    return start, end


def _token_problem(token: str) -> tuple[int, str, str] | None:
    try:
        payload = signing.loads(token, salt=DOWNLOAD_SALT)
    except signing.BadSignature:
        return 403, "invalid_link", "This link is not valid."
    if not isinstance(payload, dict) or not isinstance(payload.get("x"), int) or not payload.get("k"):
        return 403, "invalid_link", "This link is not valid."
    if payload["x"] < time.time():
        return 410, "link_expired", "This link has expired; ask for a new one."
    return None


def _next_or_none(iterator):
    return next(iterator, None)


def _for_server(request: HttpRequest, chunks):
    """Under ASGI (daphne) an async iterator that reads each chunk in a worker thread, so the event
    loop never blocks on the disk or the store; under WSGI and in tests, the plain iterator."""
    if not isinstance(request, ASGIRequest):
        return chunks

    async def stream():
        iterator = iter(chunks)
        read = sync_to_async(_next_or_none, thread_sensitive=False)
        try:
            while (chunk := await read(iterator)) is not None:
                yield chunk
        finally:
            close = getattr(iterator, "close", None)
            if close:
                await sync_to_async(close, thread_sensitive=False)()

    return stream()


@csrf_exempt  # the link is the credential, and a POST is a 405 (CSRF's 403 page said nothing useful)
def download(request: HttpRequest, token: str):
    if request.method not in ("GET", "HEAD"):
        response: HttpResponseBase = error_response(405, "method_not_allowed", "GET the bytes from this link.")
        response["Allow"] = "GET, HEAD"
        return response
    problem = _token_problem(token)
    if problem:
        return error_response(*problem)
    grant = signing.loads(token, salt=DOWNLOAD_SALT)
    key, filename, content_type = grant["k"], grant.get("f") or None, grant.get("t") or None
    guard = guard_for(key)
    try:
        etag = (
            guard.check_download(key=key, grantee=grant.get("a") or None, grant=grant.get("g") or None)
            if guard is not None
            else None
        )
    except ApplicationError as exc:
        return application_error_response(exc)
    try:
        with unavailable_on_failure():
            storage = get_storage()
            try:
                size = storage.size(key)
            except (FileNotFoundError, ObjectMissingError):
                return error_response(404, "not_found", "The bytes are not in the store.")
    except StorageUnavailableError as exc:
        return application_error_response(exc)
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range and etag and if_range.strip() != etag:
        range_header = None  # the client's copy is another object: send it whole
    try:
        wanted = byte_range(range_header, size)
    except Unsatisfiable:
        response = error_response(416, "range_not_satisfiable", f"The object has {size} bytes.")
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    start, end = wanted if wanted else (0, size - 1)
    length = end - start + 1 if size else 0
    if request.method == "HEAD":
        response = HttpResponse(status=206 if wanted else 200)
    else:
        body = storage.iter_bytes(key, start=start, end=end) if length else iter(())
        response = StreamingHttpResponse(_for_server(request, body), status=206 if wanted else 200)
        if guard is not None and length:
            guard.downloaded(
                key=key,
                request=request,
                grantee=grant.get("a") or None,
                range_header=range_header,
                length=length,
                start=start,
                link=hashlib.sha256(token.encode()).hexdigest()[:32],
            )
    response["Content-Type"] = content_type or "application/octet-stream"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    if etag:
        response["ETag"] = etag
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    if filename:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
        response["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response
