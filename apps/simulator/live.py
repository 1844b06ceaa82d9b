"""The camera's side of live view, as firmware would do it: on a `live` start frame, PUT the fMP4
init segment and then one media segment per `segment_seconds`, in real time, until told to stop.

No Django import (httpx only): the fleet simulator streams with it. The picture is a short
test-pattern loop encoded once per machine with ffmpeg (Debian's package) at first use; each
pass over the loop shifts the segments' decode times (tfdt), so a player sees one continuous,
moving stream rather than the same ten seconds again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .client import RETRY_STATUSES, retry_after_seconds

log = logging.getLogger("rtcc.simulator.live")

LOOP_SECONDS = 10
FPS = 15
SIZE = "640x360"


@dataclass(frozen=True)
class Loop:
    init: bytes
    segments: tuple[bytes, ...]
    timescale: int
    segment_seconds: float = 1.0

    @property
    def duration_ts(self) -> int:
        return round(len(self.segments) * self.segment_seconds * self.timescale)

    def segment(self, sequence: int) -> bytes:
        """Media segment `sequence` of an endless stream made of this loop."""
        passes, index = divmod(sequence, len(self.segments))
        return retime(self.segments[index], offset=passes * self.duration_ts, sequence=sequence + 1)


_loop: Loop | None = None
_loop_lock = threading.Lock()


def loop_dir() -> Path:
    params = f"{LOOP_SECONDS}-{FPS}-{SIZE}-h264-baseline-v1"
    root = Path(os.environ.get("RTCC_SIM_LIVE_DIR") or Path(tempfile.gettempdir()) / "rtcc-sim-live")
    return root / hashlib.sha256(params.encode()).hexdigest()[:12]


def make_loop() -> Loop:
    """The test-pattern loop, encoded once (ffmpeg, H.264 baseline in fMP4, 1 s segments)."""
    global _loop
    with _loop_lock:
        if _loop is not None:
            return _loop
        directory = loop_dir()
        names = [f"seg{i}.m4s" for i in range(LOOP_SECONDS)]
        if not all((directory / n).exists() for n in ["init.mp4", *names]):
            ffmpeg = shutil.which("ffmpeg")
            if ffmpeg is None:
                raise RuntimeError("live view simulation needs ffmpeg (apt-get install ffmpeg)")
            work = Path(tempfile.mkdtemp(prefix="rtcc-sim-live-"))
            subprocess.run(
                [
                    ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                    "-i", f"testsrc2=size={SIZE}:rate={FPS}", "-t", str(LOOP_SECONDS),
                    "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-preset", "veryfast",
                    "-tune", "zerolatency", "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0",
                    "-b:v", "600k", "-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4",
                    "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", str(work / "seg%d.m4s"),
                    "-hls_playlist_type", "vod", str(work / "loop.m3u8"),
                ],
                check=True,
                cwd=work,
                timeout=120,
            )  # fmt: skip
            directory.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(work, directory)  # whole or not at all, even with several processes at once
            except OSError:
                shutil.rmtree(work, ignore_errors=True)
        init = (directory / "init.mp4").read_bytes()
        _loop = Loop(
            init=init,
            segments=tuple((directory / n).read_bytes() for n in names),
            timescale=track_timescale(init),
        )
        return _loop


# ISO BMFF boxes: just enough to read the timescale and shift a fragment's decode time.


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            return
        yield kind, offset, header, size
        offset += size


def _find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None):
    for kind, offset, header, size in _boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                yield offset, header, size
            else:
                yield from _find(data, path[1:], offset + header, offset + size)


def track_timescale(init: bytes) -> int:
    for offset, header, _size in _find(init, [b"moov", b"trak", b"mdia", b"mdhd"]):
        version = init[offset + header]
        field = offset + header + (20 if version == 1 else 12)
        return struct.unpack_from(">I", init, field)[0]
    raise ValueError("no mdhd box in the init segment")


def retime(segment: bytes, *, offset: int, sequence: int) -> bytes:
    """The segment with `offset` added to each tfdt and its mfhd sequence number set."""
    data = bytearray(segment)
    for moof, header, size in _find(segment, [b"moof"]):
        for box, box_header, _ in _find(segment, [b"mfhd"], moof + header, moof + size):
            struct.pack_into(">I", data, box + box_header + 4, sequence & 0xFFFFFFFF)
        for box, box_header, _ in _find(segment, [b"traf", b"tfdt"], moof + header, moof + size):
            field = box + box_header + 4
            if segment[box + box_header] == 1:
                struct.pack_into(">Q", data, field, struct.unpack_from(">Q", segment, field)[0] + offset)
            else:
                struct.pack_into(">I", data, field, (struct.unpack_from(">I", segment, field)[0] + offset) & 0xFFFFFFFF)
    return bytes(data)


# Streaming -----------------------------------------------------------------------------------


class LiveStreamer:
    """One camera's live upload: `start(live)` on a start frame, `stop(live_id)` on a stop frame."""

    RETRY_MAX_PAUSE = 2.0

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token
        self.live_id: str | None = None
        self.task: asyncio.Task | None = None
        self.sent = 0
        self.refused: int | None = None

    @property
    def streaming(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, live: dict) -> None:
        if self.streaming and self.live_id == live.get("id"):
            return  # the same session again (a renewal): keep going
        self.stop()
        self.live_id = live["id"]
        self.task = asyncio.get_running_loop().create_task(
            self._run(live["upload_url"], float(live.get("segment_seconds") or 1)), name=f"live-{live['id']}"
        )

    def stop(self, live_id: str | None = None) -> None:
        if live_id is not None and live_id != self.live_id:
            return
        if self.task is not None:
            self.task.cancel()
        self.task = None

    async def _put(self, url: str, body: bytes, duration: float | None) -> int:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "video/mp4"}
        if duration is not None:
            headers["X-Segment-Duration"] = f"{duration:.3f}"
        for attempt in range(3):
            try:
                response = await self.http.put(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                if attempt == 2:
                    log.warning("live segment %s not sent: %s", url, exc)
                    return 0
                await asyncio.sleep(0.2)
                continue
            if response.status_code in RETRY_STATUSES and attempt < 2:
                # "not now" (the store down, say): the same segment again as Retry-After says, but
                # never longer than a live segment is worth
                await asyncio.sleep(min(retry_after_seconds(response, 0.2), self.RETRY_MAX_PAUSE))
                continue
            return response.status_code
        return 0

    async def _run(self, upload_url: str, segment_seconds: float) -> None:
        loop = await asyncio.to_thread(make_loop)
        status = await self._put(f"{upload_url}init.mp4", loop.init, None)
        if status not in (200, 201):
            self.refused = status
            return
        started = time.monotonic()
        sequence = 0
        while True:
            # a segment is sent once its second has been "filmed"
            await asyncio.sleep(max(0.0, started + (sequence + 1) * loop.segment_seconds - time.monotonic()))
            status = await self._put(f"{upload_url}{sequence}.m4s", loop.segment(sequence), loop.segment_seconds)
            if status == 409:  # the session ended
                self.refused = status
                return
            if status in (200, 201):
                self.sent += 1
            sequence += 1
