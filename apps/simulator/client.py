"""A device-side clip upload client speaking PROTOCOL.md "Clips", as camera firmware would.

Used by the fleet simulator, the benchmark and the tests: declare, ask for part URLs, PUT the
parts N at a time straight from the file (streamed, never a whole clip in memory), resume by
asking the server which parts it has, complete, wait until the clip is verified.

    uploader = ClipUploader("http://127.0.0.1:8000", device_token)
    result = uploader.upload("/path/clip.mp4", recording_id="rec-1", started_at=t0, ended_at=t1)

`fail_after=k` drops the upload after k parts (an injected failure), to show that the next
attempt resumes where the store says the upload stands.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

READ_CHUNK = 1024 * 1024
# Answers that mean "not now" (slow down, a dependency down, a proxy without its upstream): the
# same request again after Retry-After (or a doubling pause), nothing having been stored.
RETRY_STATUSES = frozenset({429, 502, 503, 504})


def retry_after_seconds(response: httpx.Response, fallback: float) -> float:
    """The pause a 429/503 asks for (Retry-After in seconds, else error.retry_after), else `fallback`."""
    value = response.headers.get("Retry-After")
    if value is None:
        try:
            value = response.json().get("error", {}).get("retry_after")
        except (ValueError, AttributeError):
            value = None
    try:
        return max(0.0, float(value)) if value is not None else fallback
    except ValueError:
        return fallback


class UploadError(Exception):
    pass


class InjectedFailure(UploadError):
    """The failure asked for with fail_after: the connection 'dropped' after k parts."""


@dataclass
class UploadResult:
    clip_id: str
    state: str
    attempts: int
    parts_sent: int
    redeclared: bool = False
    timings: dict = field(default_factory=dict)


def file_sha256(path: str | Path) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file, read in bounded chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_random_file(path: str | Path, size: int, *, seed: int | None = None) -> str:
    """Writes `size` random bytes to path, streaming; returns their SHA-256 hex."""
    import random

    rng = random.Random(seed) if seed is not None else None
    digest, left = hashlib.sha256(), size
    with open(path, "wb") as out:
        while left > 0:
            n = min(4 * READ_CHUNK, left)
            chunk = rng.randbytes(n) if rng else os.urandom(n)
            digest.update(chunk)
            out.write(chunk)
            left -= n
    return digest.hexdigest()


def _file_range(path: str | Path, offset: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        handle.seek(offset)
        left = length
        while left > 0:
            chunk = handle.read(min(READ_CHUNK, left))
            if not chunk:
                raise UploadError(f"{path} is shorter than declared")
            left -= len(chunk)
            yield chunk


def put_part(http: httpx.Client, part: dict, path: str | Path, offset: int, length: int) -> None:
    """PUTs one part's bytes from the file to its URL (S3 presigned or rtcc-signed), streamed."""
    headers = {**part.get("headers", {}), "Content-Length": str(length)}
    response = http.request(
        part.get("method", "PUT"), part["url"], headers=headers, content=_file_range(path, offset, length)
    )
    if response.status_code >= 300:
        raise UploadError(f"part {part['number']}: HTTP {response.status_code} {response.text[:200]}")


def put_parts(
    http: httpx.Client,
    parts: list[dict],
    path: str | Path,
    *,
    part_size: int,
    size: int,
    parallel: int = 4,
    fail_after: int | None = None,
    on_part: Callable[[int], None] | None = None,
) -> int:
    """PUTs the parts `parallel` at a time; the number sent. Raises on the first failure, or
    InjectedFailure once `fail_after` parts are done."""
    sent, lock = 0, threading.Lock()
    stop = threading.Event()

    def one(part: dict) -> None:
        nonlocal sent
        if stop.is_set():
            return
        offset = (part["number"] - 1) * part_size
        put_part(http, part, path, offset, min(part_size, size - offset))
        with lock:
            sent += 1
            if fail_after is not None and sent >= fail_after:
                stop.set()
        if on_part:
            on_part(part["number"])

    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="clip-put") as pool:
        futures = [pool.submit(one, part) for part in parts]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        stop.set()
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
    if fail_after is not None and sent >= fail_after and sent < len(parts):
        raise InjectedFailure(f"dropped after {sent} parts (injected)")
    return sent


class ClipUploader:
    """One device's uploads to one rtcc server."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        parallel: int = 4,
        timeout: float = 120,
        http: httpx.Client | None = None,
        batch: int = 200,
        retry_for: float = 300,
        on_answer: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_for = retry_for  # how long one API call keeps retrying 429/502/503/504
        self.retry_max_pause = 30.0
        self.on_answer = on_answer  # sees every API answer (the drills count the 5xx)
        self.parallel = parallel
        self.batch = batch
        self.poll_max = 1.0  # longest pause between two status polls while waiting for verification
        self.api = httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        # Part PUTs carry no rtcc credentials: the URL is the grant.
        self.http = http or httpx.Client(
            timeout=timeout, limits=httpx.Limits(max_connections=parallel * 2, max_keepalive_connections=parallel)
        )

    def close(self) -> None:
        self.api.close()
        self.http.close()

    def __enter__(self) -> ClipUploader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One API call, sent again after a 429/502/503/504 as its Retry-After says (a doubling
        pause without one) for up to `retry_for` seconds; the last answer."""
        deadline, pause = time.monotonic() + self.retry_for, 0.5
        while True:
            response = self.api.request(method, path, **kwargs)
            if self.on_answer is not None:
                self.on_answer(response)
            if response.status_code not in RETRY_STATUSES or time.monotonic() >= deadline:
                return response
            wait = min(retry_after_seconds(response, pause), self.retry_max_pause)
            time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
            pause = min(pause * 2, self.retry_max_pause)

    def _json(self, response: httpx.Response, *expected: int) -> dict:
        if response.status_code not in expected:
            raise UploadError(
                f"{response.request.method} {response.request.url.path}: HTTP {response.status_code} "
                f"{response.text[:300]}"
            )
        return response.json()

    def declare(
        self,
        *,
        recording_id: str,
        started_at: datetime,
        ended_at: datetime,
        size_bytes: int,
        sha256: str,
        content_type: str = "video/mp4",
        trigger: str = "manual",
        command_id: str | None = None,
        location: dict | None = None,
    ) -> tuple[dict, bool]:
        body = {
            "recording_id": recording_id,
            "started_at": started_at.isoformat(),
            "ended_at": ended_at.isoformat(),
            "size_bytes": size_bytes,
            "sha256": sha256,
            "content_type": content_type,
            "trigger": trigger,
        }
        if command_id:
            body["command_id"] = str(command_id)
        if location:
            body["location"] = location
        response = self.request("POST", "/api/v1/clips", json=body)
        return self._json(response, 200, 201), response.status_code == 201

    def part_urls(self, clip_id: str, numbers: list[int]) -> list[dict]:
        parts: list[dict] = []
        for start in range(0, len(numbers), self.batch):
            chunk = numbers[start : start + self.batch]
            response = self.request("POST", f"/api/v1/clips/{clip_id}/parts", json={"numbers": chunk})
            parts.extend(self._json(response, 200)["parts"])
        return parts

    def status(self, clip_id: str) -> dict:
        return self._json(self.request("GET", f"/api/v1/clips/{clip_id}/upload"), 200)

    def complete(self, clip_id: str) -> tuple[int, dict]:
        response = self.request("POST", f"/api/v1/clips/{clip_id}/complete")
        if response.status_code not in (202, 409):
            self._json(response, 202)
        return response.status_code, response.json()

    def wait(self, clip_id: str, *, timeout: float = 600) -> str:
        """Polls until the clip leaves `verifying`; its state."""
        deadline, delay = time.monotonic() + timeout, 0.05
        while True:
            state = self.status(clip_id)["state"]
            if state != "verifying" or time.monotonic() > deadline:
                return state
            time.sleep(delay)
            delay = min(delay * 1.5, self.poll_max)

    def upload(
        self,
        path: str | Path,
        *,
        recording_id: str,
        started_at: datetime,
        ended_at: datetime,
        sha256: str | None = None,
        content_type: str = "video/mp4",
        trigger: str = "manual",
        command_id: str | None = None,
        location: dict | None = None,
        fail_after: int | None = None,
        max_attempts: int = 5,
        wait_verified: bool = True,
        retry_delay: float = 0.2,
    ) -> UploadResult:
        """Uploads the file as one clip, resuming after failures; fail_after injects one failure."""
        timings: dict = {}
        t0 = time.perf_counter()
        size = os.path.getsize(path)
        if sha256 is None:
            size, sha256 = file_sha256(path)
        clip, created = self.declare(
            recording_id=recording_id,
            started_at=started_at,
            ended_at=ended_at,
            size_bytes=size,
            sha256=sha256,
            content_type=content_type,
            trigger=trigger,
            command_id=command_id,
            location=location,
        )
        clip_id, part_size = clip["id"], clip["part_size"]
        timings["declare"] = time.perf_counter() - t0
        attempts, counted = 0, []  # counted: one entry per part PUT (list.append is thread-safe)
        state = clip["state"]
        while state == "uploading":
            attempts += 1
            if attempts > max_attempts:
                raise UploadError(f"clip {clip_id}: still incomplete after {max_attempts} attempts")
            try:
                missing = (
                    self.status(clip_id)["missing"]
                    if attempts > 1 or not created
                    else list(range(1, clip["part_count"] + 1))
                )
                # The injected failure (once): the link drops after `drop_at` parts of this attempt.
                drop_at, fail_after, sent_now = fail_after, None, 0
                # URLs batch by batch, just before their PUTs: a slow link never holds expired ones.
                for start in range(0, len(missing), self.batch):
                    numbers = missing[start : start + self.batch]
                    inject = None
                    if drop_at is not None and drop_at - sent_now < len(numbers):
                        inject, drop_at = drop_at - sent_now, None
                        if inject <= 0:
                            raise InjectedFailure(f"dropped after {sent_now} parts (injected)")
                    parts = self.part_urls(clip_id, numbers)
                    sent_now += put_parts(
                        self.http,
                        parts,
                        path,
                        part_size=part_size,
                        size=size,
                        parallel=self.parallel,
                        fail_after=inject,
                        on_part=lambda _number: counted.append(1),
                    )
                code, body = self.complete(clip_id)
                if code == 202:
                    state = body["state"]
            except (UploadError, httpx.HTTPError):
                if attempts >= max_attempts:
                    raise
                time.sleep(min(retry_delay * 2 ** (attempts - 1), self.retry_max_pause))
        timings["upload"] = time.perf_counter() - t0
        if wait_verified and state == "verifying":
            state = self.wait(clip_id)
        timings["verified"] = time.perf_counter() - t0
        return UploadResult(
            clip_id=clip_id,
            state=state,
            attempts=attempts,
            parts_sent=len(counted),
            redeclared=not created,
            timings=timings,
        )


def _sim_sizes() -> tuple[int, int]:
    """RTCC_SIM_CLIP_MIB="2-8": the range of simulated clip sizes, in MiB."""
    raw = os.environ.get("RTCC_SIM_CLIP_MIB", "2-8")
    low, _, high = raw.partition("-")
    low_mib, high_mib = float(low), float(high or low)
    return int(low_mib * 1024 * 1024), int(max(low_mib, high_mib) * 1024 * 1024)


async def upload_recording(device, recording_id: str, started_at: datetime, ended_at: datetime) -> UploadResult | None:
    """The fleet simulator's `on_recording_stopped`: the camera uploads the clip it just recorded.

    The clip is random bytes of a realistic size (RTCC_SIM_CLIP_MIB, default 2-8 MiB) written to
    a temporary file; with probability RTCC_SIM_CLIP_FAIL_RATE (default 0.2) the upload drops
    once after its first part and resumes; RTCC_SIM_CLIPS=false uploads nothing. `device` is the
    simulator's DeviceState (base_url, token, ...).
    """
    import asyncio
    import logging
    import random
    import tempfile

    # A phone told to record uploads its clip as a camera does (a plate reader records no video).
    if getattr(device, "kind", "bodycam") not in {"bodycam", "phone"} or os.environ.get(
        "RTCC_SIM_CLIPS", "true"
    ).lower() in {
        "false",
        "0",
        "no",
        "off",
    }:
        return None
    low, high = _sim_sizes()
    size = random.randint(low, high)
    fail = random.random() < float(os.environ.get("RTCC_SIM_CLIP_FAIL_RATE", "0.2"))
    command_id = (getattr(device, "extra", None) or {}).get("recording_command_id")
    location = None
    if getattr(device, "lat", None) or getattr(device, "lon", None):
        location = {"lat": round(device.lat, 6), "lon": round(device.lon, 6), "accuracy_m": device.accuracy_m}

    def run() -> UploadResult:
        with tempfile.TemporaryDirectory(prefix="rtcc-sim-clip-") as tmp:
            path = Path(tmp) / f"{recording_id}.mp4"
            sha256 = write_random_file(path, size)
            with ClipUploader(device.base_url, device.token, parallel=2) as uploader:
                # fail_after=1: the connection drops after the first part (a one-part clip cannot drop)
                return uploader.upload(
                    path,
                    recording_id=recording_id,
                    started_at=started_at,
                    ended_at=ended_at,
                    sha256=sha256,
                    trigger="remote" if command_id else "manual",
                    command_id=command_id,
                    location=location,
                    fail_after=1 if fail else None,
                )

    result = await asyncio.to_thread(run)
    logging.getLogger("rtcc.simulator").info(
        "%s: clip %s (%d bytes) %s after %d attempt(s)",
        getattr(device, "serial", "?"),
        result.clip_id,
        size,
        result.state,
        result.attempts,
    )
    return result
