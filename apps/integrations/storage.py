"""Object storage for clips and media: S3 through boto3, or a directory on disk.

The one module that talks to the store. `get_storage()` picks the backend from settings:
RTCC_S3_BUCKET set -> S3Storage (endpoint from boto3's own AWS_ENDPOINT_URL_S3), else DiskStorage.

Both backends also speak multipart upload (create, part URLs, list parts, complete, abort) and
hand out short-lived GET links. S3 presigns its own URLs, so a camera's bytes never pass through
rtcc. The disk backend's URLs point at rtcc itself (`/upload/<token>`, `/download/<token>`): the
token is signed with SECRET_KEY (django.core.signing) and carries its own expiry.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import http.client
import io
import itertools
import logging
import os
import queue
import re
import secrets
import shutil
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar

from django.conf import settings
from django.core import signing
from django.db import transaction

from apps.core.errors import ApplicationError
from apps.core.retry import pauses

if TYPE_CHECKING:
    import aiohttp

CHUNK = 1024 * 1024
# Reading an object back whole (clip verification): this many ranged GETs at once, of this size.
PARALLEL_READS = 4
PARALLEL_PART = 8 * 1024 * 1024
# Reading an object back as one stream: read straight into this many reused buffers of CHUNK.
STREAM_BUFFERS = 4
# ... in ranged GETs of this many bytes, two at most at a time (SeaweedFS buffers ahead of a whole-object GET).
WHOLE_WINDOW = 64 * 1024 * 1024
SMALL_PUT = 16 * 1024 * 1024
DELETE_BATCH = 1000  # keys per S3 DeleteObjects request (the most S3 takes)
T = TypeVar("T")
UPLOAD_SALT = "rtcc.footage.upload-part"
DOWNLOAD_SALT = "rtcc.footage.download"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}\Z")
log = logging.getLogger(__name__)


class Readable(Protocol):
    """What a part is read from: an open file, or the request itself (Django's is file-like)."""

    def read(self, size: int = ..., /) -> bytes: ...


class StorageError(Exception):
    pass


class NoSuchUploadError(StorageError):
    """The multipart upload is not (or no longer) in the store: completed, aborted or unknown."""


class ObjectMissingError(StorageError):
    """No object under this key."""


class PartLengthError(StorageError):
    """A part's body was not the length it had to be; nothing was kept."""


class StoreAnsweredError(StorageError):
    """The store answered a direct request (a presigned URL rtcc sends itself) with an error."""


class StorageUnavailableError(ApplicationError):
    """The object store failed: 503 `storage_unavailable` with Retry-After (header and
    `error.retry_after`); nothing was stored, so the client sends the same request again then."""

    status, code = 503, "storage_unavailable"

    def __init__(
        self, message: str = "The object store is not available; try again shortly.", *, retry_after: int = 5
    ) -> None:
        wait = max(1, int(retry_after))
        super().__init__(message, headers={"Retry-After": str(wait)}, extra={"retry_after": wait})


@contextlib.contextmanager
def unavailable_on_failure(*, retry_after: int = 5) -> Iterator[None]:
    """Turns the store failing (down, refusing, timing out, a directory that cannot be written)
    into StorageUnavailableError, a clean 503. The meaningful StorageErrors (an object or an
    upload that is not there, a short part) pass through for the caller to answer."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError, OSError, http.client.HTTPException, StoreAnsweredError) as exc:
        log.warning("object store failed: %s", exc)
        raise StorageUnavailableError(retry_after=retry_after) from None


def started(key: str, *, retry_after: int = 5) -> Iterator[bytes]:
    """The stored object's bytes, the first read from the store now, before a response starts: a
    store that fails is then a clean 503 (StorageUnavailableError), not a response broken halfway."""
    with unavailable_on_failure(retry_after=retry_after):
        chunks = get_storage().iter_bytes(key)
        first = next(chunks, None)
    return itertools.chain(() if first is None else (first,), chunks)


class RowObjects:
    """Objects put for rows of one transaction (atomic_with_objects)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        self.keys: list[str] = []

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Stores the object now (the store failing: a 503, StorageUnavailableError)."""
        with unavailable_on_failure(retry_after=self.retry_after):
            get_storage().put(key, io.BytesIO(data), content_type=content_type)
        self.keys.append(key)

    def delete_all(self) -> None:
        """As far as the store answers now; a key it refuses is deleted again by the leftover sweep."""
        from . import leftovers  # leftovers imports this module

        leftovers.delete_many(self.keys, reason="put for rows that were not written")


@contextlib.contextmanager
def atomic_with_objects(*, retry_after: int = 5) -> Iterator[RowObjects]:
    """transaction.atomic() for rows that point at objects the block puts (`objects.put`): a
    photo's two sizes and its media row, a batch of plate images and their reads. When the block
    fails (the store refusing the second object, the database refusing a row, any error), the
    transaction rolls back and the objects already put are deleted again, as far as the store
    answers: none is left in the store with no row pointing to it, out of reach of every retention
    rule, search and purge. A failure of the COMMIT itself deletes nothing: the rows may stand (a
    connection lost after PostgreSQL committed), and an object left over is better than a row
    whose image is gone."""
    objects = RowObjects(retry_after)
    written = False
    try:
        with transaction.atomic():
            yield objects
            written = True
    except BaseException:
        if not written:
            objects.delete_all()
        raise


@dataclass(frozen=True)
class StoredPart:
    number: int
    size: int
    etag: str = ""
    # When the store took it (S3's LastModified, the part file's mtime on disk); not part of its identity.
    last_modified: datetime | None = field(default=None, compare=False)


class ObjectStore(Protocol):
    """What rtcc asks of an object store. S3Storage and DiskStorage implement it; `get_storage()`
    picks one from settings (RTCC_S3_BUCKET set -> S3, else the disk under RTCC_STORAGE_DIR)."""

    name: str

    def check(self) -> None: ...
    def put(self, key: str, data: BinaryIO, *, content_type: str = ...) -> None: ...
    def iter_bytes(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = ...
    ) -> Iterator[bytes]: ...
    def iter_bytes_parallel(self, key: str, *, part_size: int = ..., parallel: int = ...) -> Iterator[bytes]: ...
    def iter_whole(self, key: str, *, streams: int = ...) -> Iterator[bytes | memoryview]: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def purge_many(self, keys: list[str]) -> list[str]: ...
    def purge(self, key: str) -> None: ...
    def object_lock_enabled(self) -> bool: ...
    def object_lock_apply(self, key: str, *, retain_until: datetime | None, mode: str, legal_hold: bool) -> None: ...
    def multipart_create(self, key: str, *, content_type: str = ...) -> str: ...
    def multipart_parts(self, key: str, upload_id: str) -> Iterator[StoredPart]: ...
    def multipart_complete(self, key: str, upload_id: str, parts: Iterable[StoredPart]) -> None: ...
    def multipart_abort(self, key: str, upload_id: str) -> None: ...
    def part_upload_url(self, key: str, upload_id: str, number: int, *, length: int, expires_in: int) -> dict: ...
    def list_keys(self, prefix: str) -> list[str]: ...


class ObjectGuard(Protocol):
    """What the app owning a key prefix says about its objects to the disk backend's byte URLs
    (apps.integrations.storage_views); registered with `register_guard` in its AppConfig.ready."""

    def check_upload(self, *, key: str, upload_id: str) -> None:
        """Raises an ApplicationError when this multipart upload no longer takes parts (called as a
        part arrives: the owner may note it as news of the upload)."""

    def check_download(self, *, key: str, grantee: str | None = None, grant: str | None = None) -> str | None:
        """Raises an ApplicationError when the object may not be served; else its ETag (or None).
        `grant`: what the guard signed into the link beside its grantee (signed_get_path)."""

    def downloaded(
        self,
        *,
        key: str,
        request: object,
        grantee: str | None,
        range_header: str | None,
        length: int,
        start: int,
        link: str,
    ) -> None:
        """A GET through a signed link is sending `length` bytes from byte `start` (called once per
        such GET); `grantee` is who the link was issued to (signed into it), or None; `link`
        names the link (the same for every GET through it)."""


_guards: dict[str, ObjectGuard] = {}


def register_guard(prefix: str, guard: ObjectGuard) -> None:
    """Objects whose key starts with `prefix` are served under `guard`'s rules."""
    _guards[prefix] = guard


def guard_for(key: str) -> ObjectGuard | None:
    matches = [prefix for prefix in _guards if key.startswith(prefix)]
    return _guards[max(matches, key=len)] if matches else None


def _expires_at(expires_in: int) -> datetime:
    return datetime.fromtimestamp(int(time.time()) + int(expires_in), tz=UTC)


def sign_token(payload: dict, *, salt: str, expires_in: int) -> str:
    """A URL-safe, HMAC-signed token (SECRET_KEY) carrying payload and its own expiry."""
    return signing.dumps({**payload, "x": int(time.time()) + int(expires_in)}, salt=salt)


def read_token(token: str, *, salt: str) -> dict | None:
    """The payload of a valid, unexpired token, else None (the signature is compared in constant time)."""
    try:
        payload = signing.loads(token, salt=salt)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("x"), int) or payload["x"] < time.time():
        return None
    return payload


def read_ahead(
    readinto: Callable[[memoryview], int | None], total: int | None, *, buffers: int = STREAM_BUFFERS
) -> Iterator[memoryview]:
    """The bytes of one stream in order, as views of `buffers` reused buffers of CHUNK bytes: a
    thread reads into the next free buffer (`readinto`, no copy in Python) while the caller
    works on the one before. Each view is valid until the caller asks for the next; memory stays
    `buffers` x CHUNK whatever the length. `total`: the length the stream must have (fewer
    bytes raise StorageError), or None to read to its end."""
    free: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
    full: queue.SimpleQueue[tuple[bytearray, int] | BaseException | None] = queue.SimpleQueue()
    for _ in range(buffers):
        free.put(bytearray(CHUNK))

    def reader() -> None:
        try:
            got = 0
            while total is None or got < total:
                buffer = free.get()
                if buffer is None:  # the caller stopped reading
                    return
                view, filled = memoryview(buffer), 0
                limit = CHUNK if total is None else min(CHUNK, total - got)
                while filled < limit:
                    n = readinto(view[filled:limit])
                    if not n:
                        break
                    filled += n
                got += filled
                if filled:
                    full.put((buffer, filled))
                if filled < limit:
                    if total is not None:
                        raise StorageError(f"the stream ended after {got} of {total} bytes")
                    break
            full.put(None)
        except BaseException as exc:  # handed to the caller, raised there
            full.put(exc)

    thread = threading.Thread(target=reader, name="read-ahead", daemon=True)
    thread.start()
    try:
        while (item := full.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            buffer, filled = item
            yield memoryview(buffer)[:filled]
            free.put(buffer)
    finally:
        free.put(None)


class _Windows:
    """One object read as ranged GETs of WHOLE_WINDOW, offered as one stream (readinto). The next
    window is asked for on a second connection while this one is read, so the store starts on it
    without waiting for us; it never has more than two windows to serve. Each window's URL is
    signed when it is asked for (a large clip is read for longer than one URL lives); a window
    cut short is a StorageError, never bytes shifted into the next one."""

    def __init__(
        self,
        conns: list[http.client.HTTPConnection],
        key: str,
        size: int,
        sign: Callable[[], urllib.parse.SplitResult],
    ) -> None:
        self.key, self.size, self.sign = key, size, sign
        self.idle = list(conns)
        self.asked: deque[tuple[http.client.HTTPConnection, int, int]] = deque()
        self.following = 0  # where the next window to ask for starts
        self.response: http.client.HTTPResponse | None = None
        self.conn: http.client.HTTPConnection | None = None
        self.start = self.end = -1
        self.got = 0
        while self.idle and self.following < size:
            self._ask()
        if self.asked:
            self._take()  # here, in the caller's thread: a missing object raises at once

    def _ask(self) -> None:
        start, conn = self.following, self.idle.pop()
        end = min(start + WHOLE_WINDOW, self.size) - 1
        _ask_range(conn, self.sign(), start, end)
        self.asked.append((conn, start, end))
        self.following = end + 1

    def _take(self) -> None:
        conn, start, end = self.asked.popleft()
        response = conn.getresponse()
        if response.status == 200 and start == 0:  # a store that ignores Range: the whole object
            end, self.following = self.size - 1, self.size
            self.asked.clear()  # what was asked beside it is never read (its connection is closed)
        else:
            _check_range_answer(response, self.key, start, end)
        self.conn, self.response, self.start, self.end, self.got = conn, response, start, end, 0

    def readinto(self, view: memoryview) -> int:
        while self.response is not None:
            if n := self.response.readinto(view):
                self.got += n
                return n
            if self.got != (length := self.end - self.start + 1):
                raise StorageError(f"GET {self.key!r} {self.start}-{self.end} ended after {self.got} of {length} bytes")
            if self.conn is not None:  # set with the response: free for the window after next
                self.idle.append(self.conn)
            self.response = self.conn = None
            if self.following < self.size:
                self._ask()
            if self.asked:
                self._take()
        return 0


class DiskStorage:
    name = "disk"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.uploads = self.root / ".uploads"

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"key {key!r} escapes the storage directory")
        return path

    def check(self) -> None:
        probe = self.root / f".readyz-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()

    def put(self, key: str, data: BinaryIO, *, content_type: str = "application/octet-stream") -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp-{uuid.uuid4().hex}")
        with open(tmp, "wb") as out:
            shutil.copyfileobj(data, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def iter_bytes(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK
    ) -> Iterator[bytes]:
        """The object's bytes from start to end (inclusive), in bounded chunks."""
        try:
            handle = open(self.path(key), "rb")
        except FileNotFoundError:
            raise ObjectMissingError(f"no object {key!r}") from None
        with handle:
            handle.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                chunk = handle.read(chunk_size if remaining is None else min(chunk_size, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def iter_bytes_parallel(
        self, key: str, *, part_size: int = PARALLEL_PART, parallel: int = PARALLEL_READS
    ) -> Iterator[bytes]:
        """The whole object in order (a local file reads fast enough as one stream)."""
        return self.iter_bytes(key, chunk_size=part_size)

    def iter_whole(self, key: str, *, streams: int = 1) -> Iterator[bytes | memoryview]:
        """The whole object in order, read into reused buffers (see read_ahead); a local file is
        one stream whatever `streams` says."""
        try:
            handle = open(self.path(key), "rb", buffering=0)
        except FileNotFoundError:
            raise ObjectMissingError(f"no object {key!r}") from None
        with handle:
            yield from read_ahead(handle.readinto, None)

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def list_keys(self, prefix: str) -> list[str]:
        """Every object key under this prefix, sorted."""
        base = self.root.resolve()
        folder = self.path(prefix.rstrip("/") or ".") if prefix.rstrip("/") else base
        if not folder.is_dir():
            return []
        keys = (str(p.relative_to(base)) for p in folder.rglob("*") if p.is_file() and ".tmp-" not in p.name)
        return sorted(k for k in keys if k.startswith(prefix))

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def purge_many(self, keys: list[str]) -> list[str]:
        """Deletes these objects for good; returns the keys that could not be deleted."""
        failed = []
        for key in keys:
            try:
                self.delete(key)
            except OSError:
                failed.append(key)
        return failed

    # Retention: purge and Object Lock; a directory has no lock.

    def purge(self, key: str) -> None:
        """Deletes the object's bytes for good."""
        self.delete(key)

    def object_lock_enabled(self) -> bool:
        return False

    def object_lock_apply(self, key: str, *, retain_until: datetime | None, mode: str, legal_hold: bool) -> None:
        raise StorageError("a directory has no Object Lock")

    # Multipart upload: one directory per upload under .uploads/, one file per finished part.

    def _upload_dir(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.match(upload_id or ""):
            raise NoSuchUploadError(f"no upload {upload_id!r}")
        return self.uploads / upload_id

    def multipart_create(self, key: str, *, content_type: str = "application/octet-stream") -> str:
        self.path(key)  # refuses a key outside the root before anything is made
        upload_id = uuid.uuid4().hex
        directory = self._upload_dir(upload_id)
        directory.mkdir(parents=True)
        (directory / "key").write_text(key)
        return upload_id

    def _open_upload(self, key: str, upload_id: str) -> Path:
        directory = self._upload_dir(upload_id)
        try:
            stored_key = (directory / "key").read_text()
        except FileNotFoundError:
            raise NoSuchUploadError(f"no upload {upload_id!r}") from None
        if stored_key != key:
            raise NoSuchUploadError(f"upload {upload_id!r} is not for {key!r}")
        return directory

    def multipart_write_part(
        self, key: str, upload_id: str, number: int, stream: Readable, *, length: int
    ) -> StoredPart:
        """Streams exactly `length` bytes from `stream` into part `number`, in bounded chunks.

        The part appears only once whole (written aside, then renamed), so a dropped connection
        leaves no half part behind; a body of any other length is refused and discarded.
        """
        directory = self._open_upload(key, upload_id)
        tmp = directory / f"{number:05d}.tmp-{uuid.uuid4().hex}"
        written = 0
        try:
            with open(tmp, "wb") as out:
                while True:
                    chunk = stream.read(min(CHUNK, length - written + 1))
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > length:
                        raise PartLengthError(f"part {number} is longer than {length} bytes")
                    out.write(chunk)
                if written != length:
                    raise PartLengthError(f"part {number} has {written} bytes, not {length}")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, directory / f"{number:05d}.part")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredPart(number, written)

    def multipart_parts(self, key: str, upload_id: str) -> Iterator[StoredPart]:
        directory = self._open_upload(key, upload_id)
        found = []
        with os.scandir(directory) as entries:
            for entry in entries:
                stem, dot, suffix = entry.name.partition(".")
                if dot and suffix == "part" and stem.isdigit():
                    stat = entry.stat()
                    stored_at = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
                    found.append(StoredPart(int(stem), stat.st_size, last_modified=stored_at))
        yield from sorted(found, key=lambda part: part.number)

    def multipart_complete(self, key: str, upload_id: str, parts: Iterable[StoredPart]) -> None:
        """Concatenates the parts into the object, streaming in the kernel (never in memory)."""
        directory = self._upload_dir(upload_id)
        target = self.path(key)
        if not (directory / "key").exists():
            if target.exists():
                return  # completed already (a retried complete)
            raise NoSuchUploadError(f"no upload {upload_id!r}")
        self._open_upload(key, upload_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + f".tmp-{uuid.uuid4().hex}")
        try:
            with open(tmp, "wb") as out:
                for part in parts:
                    with open(directory / f"{part.number:05d}.part", "rb") as src:
                        _copy(src, out, part.size)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except FileNotFoundError:
            tmp.unlink(missing_ok=True)
            raise NoSuchUploadError(f"upload {upload_id!r} lost a part") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        shutil.rmtree(directory, ignore_errors=True)

    def multipart_abort(self, key: str, upload_id: str) -> None:
        try:
            directory = self._upload_dir(upload_id)
        except NoSuchUploadError:
            return
        shutil.rmtree(directory, ignore_errors=True)

    def part_upload_url(self, key: str, upload_id: str, number: int, *, length: int, expires_in: int) -> dict:
        """A signed rtcc URL (path only; the API makes it absolute) for PUTting one part."""
        token = sign_token(
            {"k": key, "u": upload_id, "n": number, "l": length}, salt=UPLOAD_SALT, expires_in=expires_in
        )
        return {
            "url": f"/upload/{token}",
            "method": "PUT",
            "headers": {"Content-Type": "application/octet-stream"},
            "expires_at": _expires_at(expires_in),
        }


def upload_body_guard(path: str):
    """For the streaming body guard (apps.core.bodylimits): a part PUT to `/upload/<token>` is
    authorized from its token before any byte is read, and may carry exactly the part's length."""
    token = path.rsplit("/", 1)[-1]
    grant = read_upload_token(token)
    if grant is None:
        return 403, "invalid_or_expired_url", "This upload URL is not valid or has expired."
    return int(grant["length"])


def signed_get_path(
    key: str,
    *,
    expires_in: int,
    filename: str | None = None,
    content_type: str | None = None,
    grantee: str | None = None,
    grant: str | None = None,
) -> str:
    """A signed rtcc path (`/download/<token>`) to an object's bytes, whatever the backend (rtcc
    streams them); read it back with read_get_token. `grantee` (who the link was issued to) is
    signed in, so the download is recorded as theirs and refused once they are deactivated;
    `grant`, what else the guard checks then (a key of its own: the previous release, serving
    during a rolling upgrade, reads `grantee` as a person's id)."""
    # "n": each link its own (two issued in one second were the same token, and their downloads
    # one download in the custody, which tells them apart by link).
    payload = {"k": key, "f": filename or "", "t": content_type or "", "n": secrets.token_hex(4)}
    if grantee:
        payload["a"] = grantee
    if grant:
        payload["g"] = grant
    token = sign_token(payload, salt=DOWNLOAD_SALT, expires_in=expires_in)
    return f"/download/{token}"


def read_upload_token(token: str) -> dict | None:
    """{"key", "upload_id", "number", "length"} of a valid disk part-upload token, else None."""
    payload = read_token(token, salt=UPLOAD_SALT)
    if payload is None:
        return None
    return {"key": payload["k"], "upload_id": payload["u"], "number": payload["n"], "length": payload["l"]}


def read_get_token(token: str) -> dict | None:
    """{"key", "filename", "content_type"} of a valid disk download token, else None."""
    payload = read_token(token, salt=DOWNLOAD_SALT)
    if payload is None:
        return None
    return {"key": payload["k"], "filename": payload["f"] or None, "content_type": payload["t"] or None}


def _copy(src: BinaryIO, dst: BinaryIO, size: int) -> None:
    """Copies size bytes file to file, in the kernel where it can (copy_file_range)."""
    remaining = size
    if hasattr(os, "copy_file_range"):
        try:
            while remaining > 0:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), min(remaining, 1 << 30))
                if copied == 0:
                    break
                remaining -= copied
        except OSError:
            pass  # e.g. across file systems that refuse it: fall back below
    while remaining > 0:
        chunk = src.read(min(CHUNK, remaining))
        if not chunk:
            raise StorageError("a part is shorter than listed")
        dst.write(chunk)
        remaining -= len(chunk)


# A small PUT that did not reach the store, or was answered 5xx, is sent again with core.retry's
# pauses for about this long (50 ms, 200 ms, 800 ms), as botocore's own retries would.
PUT_RETRY_SECONDS = 1.5
# How long a call waits on a store that took the connection and says nothing (hung, or frozen):
# each read of the answer at most STORE_READ_TIMEOUT, and botocore tries a call STORE_ATTEMPTS
# times. A camera's declare or complete, a photo, a live segment then answers 503
# storage_unavailable within about 20 s, not after five minutes of retries of a minute each (the
# camera tries again as told). A store that answers is never this slow between two reads.
STORE_CONNECT_TIMEOUT = 3
STORE_READ_TIMEOUT = 10
STORE_ATTEMPTS = 2
_kept = threading.local()


def _connection(url: urllib.parse.SplitResult) -> http.client.HTTPConnection:
    """A new connection to the store for a request rtcc sends itself (boto3's CA bundle setting,
    AWS_CA_BUNDLE, holds for https)."""
    if url.scheme == "https":
        context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
        return http.client.HTTPSConnection(url.hostname or "", url.port, timeout=STORE_READ_TIMEOUT, context=context)
    return http.client.HTTPConnection(url.hostname or "", url.port, timeout=STORE_READ_TIMEOUT)


def _ask_range(conn: http.client.HTTPConnection, url: urllib.parse.SplitResult, start: int, end: int) -> None:
    """Sends a GET of bytes start..end (inclusive) of a presigned URL on `conn`."""
    conn.request("GET", f"{url.path}?{url.query}", headers={"Range": f"bytes={start}-{end}"})


def _check_range_answer(response: http.client.HTTPResponse, key: str, start: int, end: int) -> None:
    """A ranged GET's answer carries its bytes (206): a 404 is a missing object, anything else a
    StorageError."""
    if response.status == 404:
        raise ObjectMissingError(f"no object {key!r}")
    if response.status != 206:
        raise StorageError(f"GET {key!r} {start}-{end} answered {response.status}: {response.read(500)!r}")


def _kept_alive(url: urllib.parse.SplitResult) -> tuple[http.client.HTTPConnection, bool]:
    """This thread's open connection to the store at `url` (and True), or a new one (and False)."""
    if getattr(_kept, "pid", None) != os.getpid():  # a forked child (a Celery worker) never shares its parent's
        _kept.pid, _kept.conns = os.getpid(), {}
    conns: dict = _kept.conns
    where = (url.scheme, url.netloc)
    conn = conns.get(where)
    if conn is not None:
        return conn, True
    conn = conns[where] = _connection(url)
    return conn, False


def _forget_kept_alive(url: urllib.parse.SplitResult) -> None:
    conn = getattr(_kept, "conns", {}).pop((url.scheme, url.netloc), None)
    if conn is not None:
        conn.close()


def _put_headers(body: bytes, content_type: str) -> dict[str, str]:
    """A small PUT's headers: Content-MD5 makes the store check every byte."""
    md5 = hashlib.md5(body).digest()  # noqa: S324 (the store's check, not security)
    return {"Content-Type": content_type, "Content-MD5": base64.b64encode(md5).decode()}


def _put_retry_pause(status: int, answer: bytes, pause: Iterator[float]) -> float | None:
    """What a small PUT's answer means: None, stored; else the pause before sending it again (a
    5xx, while `pause` has pauses left). Any other answer is raised."""
    if status in (200, 201, 204):
        return None
    if status >= 500 and (wait := next(pause, None)) is not None:
        return wait
    raise StoreAnsweredError(f"PUT answered {status}: {answer[:500]!r}")


def _async_put_errors() -> tuple[type[BaseException], ...]:
    """What a PUT through aiohttp raises when the store is not reached or the exchange breaks."""
    import aiohttp

    return (OSError, aiohttp.ClientError, asyncio.TimeoutError)


# One aiohttp session per event loop (daphne runs one for the life of the process) for the PUTs
# rtcc sends to the store from async code: S3Storage.put_small_async.
_loop_sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}


def _loop_http() -> aiohttp.ClientSession:
    import aiohttp

    loop = asyncio.get_running_loop()
    session = _loop_sessions.get(loop)
    if session is None or session.closed:
        context = None
        if os.environ.get("AWS_CA_BUNDLE"):  # boto3's CA bundle setting holds here too
            context = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])
        session = _loop_sessions[loop] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=32, ssl=context if context is not None else True),
            timeout=aiohttp.ClientTimeout(
                total=STORE_ATTEMPTS * STORE_READ_TIMEOUT, connect=STORE_CONNECT_TIMEOUT, sock_read=STORE_READ_TIMEOUT
            ),
            auto_decompress=False,
        )
    return session


async def close_loop_http() -> None:
    """Closes this loop's session to the store (tests, shutdown); the next PUT opens another."""
    session = _loop_sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def discard_closed_loops() -> None:
    """Forgets the sessions of event loops that have closed (their sockets went with them)."""
    for loop in [loop for loop in _loop_sessions if loop.is_closed()]:
        _loop_sessions.pop(loop).detach()


class S3Storage:
    name = "s3"

    def __init__(self, bucket: str) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self._proxied: dict[tuple[str, str], bool] = {}  # whether a proxy stands before the store
        # boto3 reads AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, ... from the environment itself.
        self.client = boto3.client(
            "s3",
            config=Config(
                signature_version="s3v4",
                retries={"max_attempts": STORE_ATTEMPTS, "mode": "standard"},
                s3={"addressing_style": "path"},
                max_pool_connections=32,
                connect_timeout=STORE_CONNECT_TIMEOUT,
                read_timeout=STORE_READ_TIMEOUT,
            ),
        )

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put(self, key: str, data: BinaryIO, *, content_type: str = "application/octet-stream") -> None:
        if isinstance(data, io.BytesIO) and data.getbuffer().nbytes <= SMALL_PUT:
            # Small bodies already in memory (live segments, photos): one PUT to a presigned URL
            # over this thread's kept-alive connection (botocore's put_object cost 2-3 times the
            # CPU), Content-MD5 making the store check every byte; through boto3 when a proxy is set.
            body = data.getvalue()
            url = self._direct_url("put_object", key, ContentType=content_type)
            if url is None:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
            else:
                self._put_direct(url, body, content_type)
            return
        self.client.upload_fileobj(data, self.bucket, key, ExtraArgs={"ContentType": content_type})

    def iter_bytes(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK
    ) -> Iterator[bytes]:
        kwargs = {}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key, **kwargs)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise ObjectMissingError(f"no object {key!r}") from None
            raise
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def iter_bytes_parallel(
        self, key: str, *, part_size: int = PARALLEL_PART, parallel: int = PARALLEL_READS
    ) -> Iterator[bytes]:
        """The whole object in order, read as `parallel` ranged GETs at once through botocore: one
        stream from the store is slower than the caller can hash. At most `parallel` parts are in
        memory (plus the one the caller holds), whatever the object's size."""
        return self._ranges_in_order(
            key, lambda start, end, _: self._read_range(key, start, end), parallel=parallel, part_size=part_size
        )

    def _ranges_in_order(
        self,
        key: str,
        read: Callable[[int, int, bytearray], T],
        *,
        parallel: int,
        part_size: int = PARALLEL_PART,
        reuse: bool = False,
    ) -> Iterator[T]:
        """The object's ranges of `part_size`, each read by `read(start, end, buffer)` on one of
        `parallel` threads, yielded in order. `reuse`: the buffers are `parallel` + 1 reused ones of
        `part_size` that `read` fills (the one the caller holds is not refilled until it asks for
        the next); else `read` gets an empty one and returns new bytes."""
        size = self._size_or_missing(key)
        ranges = iter([(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)])
        count = min(parallel + 1, -(-size // part_size))
        free = [bytearray(min(part_size, size) if reuse else 0) for _ in range(count)]
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="s3-range") as pool:
            pending: deque = deque()

            def ask() -> None:
                nxt = next(ranges, None)
                if nxt is not None:
                    buffer = free.pop()
                    pending.append((buffer, pool.submit(read, *nxt, buffer)))

            try:
                for _ in range(len(free) - 1 or 1):
                    ask()
                while pending:
                    buffer, future = pending.popleft()
                    part = future.result()
                    ask()  # with the spare buffer: the one in `part` is the caller's until it asks again
                    yield part
                    free.append(buffer)
            finally:
                for _, future in pending:
                    future.cancel()

    def iter_whole(self, key: str, *, streams: int = 1) -> Iterator[bytes | memoryview]:
        """The whole object in order. `streams` 1: one stream, read straight from the socket into
        reused buffers while the caller works on the one before (read_ahead), as ranged GETs of
        WHOLE_WINDOW (_Windows); more: that many ranged GETs of PARALLEL_PART at once, for a store
        that serves one stream slower than the caller consumes it.

        Why windows and not one GET: a store asked for a whole large object reads ahead of a
        client that hashes as it goes. SeaweedFS buffered ~600 MiB of a 1 GiB clip that way, and the
        next upload into it then ran 40% slower while its memory was given back and faulted in
        again (bench/clip_upload.py, issue 17). A window bounds what the store holds for us."""
        url = self._direct_url("get_object", key)
        if streams > 1:
            if url is None:
                yield from self.iter_bytes_parallel(key, parallel=streams)
            else:  # botocore's copies spared: each range read with http.client into a reused buffer
                yield from self._ranges_in_order(
                    key,
                    lambda start, end, buffer: self._read_range_into(key, start, end, buffer),
                    parallel=streams,
                    reuse=True,
                )
            return
        if url is None:
            yield from self.iter_bytes(key)
            return
        # A presigned GET read with http.client: its readinto fills the buffer from the socket,
        # where botocore's body copies every chunk (twice) on the way.
        size = self._size_or_missing(key)
        conns = [_connection(url), _connection(url)]
        try:
            windows = _Windows(conns, key, size, lambda: self._direct_get(key))
            yield from read_ahead(windows.readinto, windows.size)
        finally:
            for conn in conns:
                if conn.sock is not None:  # wakes the reading thread if the caller stopped early
                    with contextlib.suppress(OSError):
                        conn.sock.shutdown(socket.SHUT_RDWR)
                conn.close()

    def _read_range_into(self, key: str, start: int, end: int, buffer: bytearray) -> memoryview:
        """One ranged GET on this thread's kept-alive connection, read into `buffer`."""
        url = self._direct_get(key)
        length, (conn, _) = end - start + 1, _kept_alive(url)
        try:
            _ask_range(conn, url, start, end)
            response = conn.getresponse()
            _check_range_answer(response, key, start, end)
            view, filled = memoryview(buffer)[:length], 0
            while filled < length and (n := response.readinto(view[filled:])):
                filled += n
            if filled != length or response.read(1):
                raise StorageError(f"{key!r} changed while it was read (range {start}-{end})")
            return view
        except BaseException:
            _forget_kept_alive(url)  # a connection left mid-answer cannot carry the next request
            raise

    def _direct_get(self, key: str) -> urllib.parse.SplitResult:
        """A presigned GET of the object for a read that began on the direct path (no proxy)."""
        url = self._direct_url("get_object", key)
        if url is None:
            raise StorageError("a proxy was set for the store while an object was read")
        return url

    def _direct_url(self, operation: str, key: str, **params) -> urllib.parse.SplitResult | None:
        """A presigned URL for one request rtcc sends itself with http.client, or None when a
        proxy is set for the store (HTTP_PROXY/HTTPS_PROXY, not bypassed by NO_PROXY): then
        botocore goes through it, as for every other call to the store."""
        url = urllib.parse.urlsplit(
            self.client.generate_presigned_url(
                operation, Params={"Bucket": self.bucket, "Key": key, **params}, ExpiresIn=300
            )
        )
        where = (url.scheme, url.netloc)
        proxied = self._proxied.get(where)
        if proxied is None:  # read once: the environment is read again for each call (~0.5 ms)
            proxied = bool(urllib.request.getproxies().get(url.scheme)) and not urllib.request.proxy_bypass(url.netloc)
            self._proxied[where] = proxied
        return None if proxied else url

    def _put_direct(self, url: urllib.parse.SplitResult, body: bytes, content_type: str) -> None:
        """PUT `body` to a presigned URL on this thread's kept-alive connection to the store. A
        connection the store closed while idle is opened again; a store not reached or answering
        5xx is tried again after a pause (the same PUT twice stores the same object once); any
        other answer, or the last failure, is raised."""
        headers = _put_headers(body, content_type)
        target = f"{url.path}?{url.query}"
        pause = pauses(PUT_RETRY_SECONDS)
        while True:
            conn, reused = _kept_alive(url)
            try:
                conn.request("PUT", target, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                _forget_kept_alive(url)
                if reused:  # closed by the store while idle: once more on a new connection
                    continue
                if (wait := next(pause, None)) is None:
                    raise
                time.sleep(wait)  # not reached: again after a pause, as botocore would
                continue
            if response.will_close:
                _forget_kept_alive(url)
            if (wait := _put_retry_pause(response.status, answer, pause)) is None:
                return
            time.sleep(wait)

    async def put_small_async(self, key: str, body: bytes, *, content_type: str) -> bool:
        """put() of a small body from async code, on the event loop with no thread: the same
        presigned PUT with Content-MD5 and the same retries, over this loop's kept-alive
        connections (aiohttp). False when a proxy is set for the store (the caller then uses put()
        in a thread, through boto3). Raises what unavailable_on_failure() turns into a 503."""
        url = self._direct_url("put_object", key, ContentType=content_type)
        if url is None:
            return False
        headers = _put_headers(body, content_type)
        pause = pauses(PUT_RETRY_SECONDS)
        while True:
            try:
                async with _loop_http().put(url.geturl(), data=body, headers=headers) as response:
                    answer = await response.read()
                    status = response.status
            except _async_put_errors() as exc:
                if (wait := next(pause, None)) is None:
                    raise StoreAnsweredError(f"PUT {key!r} failed: {exc!r}") from exc
                await asyncio.sleep(wait)  # not reached: again after a pause, as botocore would
                continue
            if (wait := _put_retry_pause(status, answer, pause)) is None:
                return True
            await asyncio.sleep(wait)

    def _read_range(self, key: str, start: int, end: int) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]
        try:
            data = body.read()
        finally:
            body.close()
        if len(data) != end - start + 1:
            raise StorageError(f"{key!r} changed while it was read (range {start}-{end})")
        return data

    def _size_or_missing(self, key: str) -> int:
        from botocore.exceptions import ClientError

        try:
            return self.size(key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise ObjectMissingError(f"no object {key!r}") from None
            raise

    def size(self, key: str) -> int:
        return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def purge_many(self, keys: list[str]) -> list[str]:
        """Deletes these objects for good, a thousand per request (DeleteObjects), or version by
        version on a versioned (Object Lock) bucket; returns the keys the store did not delete."""
        from botocore.exceptions import BotoCoreError, ClientError

        failed: list[str] = []
        if self.object_lock_enabled():
            for key in keys:
                try:
                    self.purge(key)
                except (BotoCoreError, ClientError, StorageError):
                    failed.append(key)
            return failed
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
                )
            except (BotoCoreError, ClientError):
                failed.extend(batch)
                continue
            failed.extend(error["Key"] for error in answer.get("Errors", []) if error.get("Code") != "NoSuchKey")
        return failed

    def list_keys(self, prefix: str) -> list[str]:
        """Every object key under this prefix, sorted."""
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    # Retention: purge and Object Lock.

    def purge(self, key: str) -> None:
        """Deletes every version of the object: on a versioned (Object Lock) bucket a plain delete
        only adds a delete marker and keeps the bytes. A version still under retention or legal
        hold is refused by the store (StorageError), so nothing here can delete evidence early."""
        from botocore.exceptions import ClientError

        if not self.object_lock_enabled():
            self.client.delete_object(Bucket=self.bucket, Key=key)
            return
        pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key)
        for page in pages:
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if version["Key"] != key:
                    continue
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version["VersionId"])
                except ClientError as exc:
                    raise StorageError(f"the store refused to delete {key!r}: {exc}") from exc

    def object_lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock (asked once; a store without the feature answers no)."""
        if getattr(self, "_object_lock", None) is None:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
                self._object_lock = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except (ClientError, BotoCoreError):
                self._object_lock = False
        return self._object_lock

    def object_lock_apply(self, key: str, *, retain_until: datetime | None, mode: str, legal_hold: bool) -> None:
        """Sets the object's retention (never shortened here) and legal hold on its current version."""
        from botocore.exceptions import ClientError

        try:
            if retain_until is not None:
                self.client.put_object_retention(
                    Bucket=self.bucket, Key=key, Retention={"Mode": mode, "RetainUntilDate": retain_until}
                )
            self.client.put_object_legal_hold(
                Bucket=self.bucket, Key=key, LegalHold={"Status": "ON" if legal_hold else "OFF"}
            )
        except ClientError as exc:
            raise StorageError(f"the store refused Object Lock on {key!r}: {exc}") from exc

    # Multipart upload, straight to the store through presigned URLs.

    @staticmethod
    def _no_such_upload(exc) -> bool:
        return exc.response.get("Error", {}).get("Code") in {"NoSuchUpload", "404", "NotFound"}

    def multipart_create(self, key: str, *, content_type: str = "application/octet-stream") -> str:
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)["UploadId"]

    def multipart_parts(self, key: str, upload_id: str) -> Iterator[StoredPart]:
        """Every part the store holds, page by page (ListParts returns at most 1,000 at a time)."""
        from botocore.exceptions import ClientError

        page_size = int(getattr(settings, "RTCC_CLIP_LIST_PARTS_PAGE", 1000))
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PaginationConfig={"PageSize": page_size}
        )
        try:
            for page in pages:
                for part in page.get("Parts", []):
                    yield StoredPart(part["PartNumber"], part["Size"], part["ETag"], part.get("LastModified"))
        except ClientError as exc:
            if self._no_such_upload(exc):
                raise NoSuchUploadError(f"no upload {upload_id!r}") from None
            raise

    def multipart_complete(self, key: str, upload_id: str, parts: Iterable[StoredPart]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
            )
        except ClientError as exc:
            if self._no_such_upload(exc):
                raise NoSuchUploadError(f"no upload {upload_id!r}") from None
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise  # the store failing (not refusing these parts): the caller's "unavailable"
            raise StorageError(str(exc)) from exc

    def multipart_abort(self, key: str, upload_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if not self._no_such_upload(exc):
                raise

    def part_upload_url(self, key: str, upload_id: str, number: int, *, length: int, expires_in: int) -> dict:
        url = self.client.generate_presigned_url(
            "upload_part",
            Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
            ExpiresIn=int(expires_in),
        )
        return {"url": url, "method": "PUT", "headers": {}, "expires_at": _expires_at(expires_in)}


@functools.cache
def _storage(bucket: str | None, root: str) -> ObjectStore:
    if not bucket:
        return DiskStorage(Path(root))
    storage = S3Storage(bucket)
    try:
        # A fresh store has no bucket yet: make it once per process. A store that refuses
        # (no rights, not reachable yet) is left as it is; /readyz names the problem.
        storage.ensure_bucket()
    except Exception as exc:
        log.warning("could not check or create bucket %s: %s", bucket, exc)
    return storage


def get_storage() -> ObjectStore:
    return _storage(settings.RTCC_S3_BUCKET, str(settings.RTCC_STORAGE_DIR))
