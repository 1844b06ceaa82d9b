"""Clip uploads during a drill: simulated bodycams upload clips with the simulator's upload client
(apps/simulator/client.py, which retries 429/502/503/504 as Retry-After says) while a fault
strikes; afterwards every clip must end `verified` (state `available`), none `corrupt`, each
completed and verified exactly once, and every 5xx answered to a declare or a complete matched
by nothing stored (the clip's declare or complete was recorded after that answer, by a retry).

Sizes from the environment: RTCC_DRILL_CLIPS (6) clips of RTCC_DRILL_CLIP_MIB (8-24) MiB, and
for the drills that strike mid-verification one clip of RTCC_DRILL_BIG_CLIP_MIB (512) MiB.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from apps.simulator.client import ClipUploader, write_random_file

from .procs import wait_until

CLIPS = int(os.environ.get("RTCC_DRILL_CLIPS", "6"))
CLIP_MIB = tuple(int(n) for n in os.environ.get("RTCC_DRILL_CLIP_MIB", "8-24").split("-"))
BIG_CLIP_MIB = int(os.environ.get("RTCC_DRILL_BIG_CLIP_MIB", "512"))
MiB = 1024 * 1024
VERIFY_TIMEOUT = 180.0


@dataclass
class Upload:
    recording_id: str
    path: Path
    size: int
    sha256: str
    camera: dict
    clip_id: str | None = None
    error: str | None = None
    answers: list = field(default_factory=list)  # (method, path, status, answered at: epoch seconds)


class ClipLoad:
    """Uploads `count` clips (and a big one) from the fleet's cameras, each in its own thread,
    started `spread` seconds apart; `answer` counts every API answer they get."""

    def __init__(
        self, stack, cameras: list[dict], *, tag: str, count: int = CLIPS, big_mib: int = 0, spread: float = 0.5
    ) -> None:
        self.stack, self.tag, self.spread = stack, tag, spread
        self.dir = stack.workdir / f"clips-{tag}"
        self.dir.mkdir(exist_ok=True)
        rng = random.Random(tag)
        sizes = [rng.randint(CLIP_MIB[0], CLIP_MIB[-1]) * MiB + rng.randint(0, MiB) for _ in range(count)]
        if big_mib:
            sizes.insert(0, big_mib * MiB + 12345)
        self.uploads: list[Upload] = []
        for n, size in enumerate(sizes):
            path = self.dir / f"clip-{n}.mp4"
            sha256 = write_random_file(path, size, seed=hash((tag, n)) & 0xFFFFFFFF)
            camera = cameras[(n + 1) % len(cameras)]  # camera 0 takes the drill's fresh command
            self.uploads.append(Upload(f"drill-{tag}-{n}-{rng.getrandbits(32):08x}", path, size, sha256, camera))
        self.threads: list[threading.Thread] = []
        self.recovered_at: float | None = None  # when the fault ended (epoch seconds)

    @property
    def big(self) -> Upload:
        return self.uploads[0]

    def start(self) -> None:
        for n, upload in enumerate(self.uploads):
            thread = threading.Thread(target=self._upload, args=(upload, n * self.spread), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _upload(self, upload: Upload, delay: float) -> None:
        time.sleep(delay)
        urls = [d.url for d in self.stack.daphnes]
        url = urls[hash(upload.recording_id) % len(urls)]

        def answer(response: httpx.Response) -> None:
            upload.answers.append(
                (response.request.method, response.request.url.path, response.status_code, time.time())
            )

        end = datetime.now(UTC) - timedelta(minutes=1)
        try:
            with ClipUploader(url, upload.camera["token"], parallel=2, retry_for=240, on_answer=answer) as client:
                result = client.upload(
                    upload.path,
                    recording_id=upload.recording_id,
                    started_at=end - timedelta(minutes=5),
                    ended_at=end,
                    sha256=upload.sha256,
                    max_attempts=40,
                    retry_delay=0.5,
                    wait_verified=False,
                )
                upload.clip_id = result.clip_id
        except Exception as exc:  # reported as a lost clip
            upload.error = f"{type(exc).__name__}: {exc}"[:300]

    def join(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # The database's view -------------------------------------------------------------------

    def rows(self) -> dict[str, dict]:
        """recording_id -> the clip row and its audit counts, read straight from PostgreSQL."""
        import psycopg

        ids = [u.recording_id for u in self.uploads]
        with psycopg.connect(self.stack.pg.url, autocommit=True) as conn:
            clips = conn.execute(
                "SELECT recording_id, id::text, state, verified_at, verify_attempts FROM footage_clip"
                " WHERE recording_id = ANY(%s)",
                (ids,),
            ).fetchall()
            by_id = {row[1]: row for row in clips}
            events = conn.execute(
                "SELECT object_id, action, outcome, at FROM audit_auditevent"
                " WHERE object_type = 'clip' AND object_id = ANY(%s)"
                " AND action IN ('clip.declare', 'clip.complete', 'clip.verify')",
                (list(by_id),),
            ).fetchall()
        out = {
            rec: {"id": cid, "state": state, "verified_at": verified, "attempts": attempts, "events": []}
            for rec, cid, state, verified, attempts in clips
        }
        for object_id, action, outcome, at in events:
            out[by_id[object_id][0]]["events"].append((action, outcome, at.timestamp()))
        return out

    def claimed(self, upload: Upload) -> bool:
        """The clip is being verified right now (its lease taken, not yet verified)."""
        row = self.rows().get(upload.recording_id)
        return bool(row and row["state"] == "verifying" and row["attempts"] >= 1)

    def wait_claimed(self, upload: Upload, timeout: float = 240) -> None:
        wait_until(
            lambda: self.claimed(upload),
            timeout=timeout,
            what=f"verification of {upload.recording_id} under way",
            interval=0.02,
        )

    def settle(self) -> dict[str, dict]:
        """Waits (bounded) until every uploaded clip has left `verifying`; the rows."""
        deadline = time.monotonic() + VERIFY_TIMEOUT
        while True:
            rows = self.rows()
            done = all(
                rows.get(u.recording_id, {}).get("state") not in (None, "uploading", "verifying") for u in self.uploads
            )
            if done or time.monotonic() > deadline:
                return rows
            time.sleep(1)

    def check(self) -> tuple[dict, dict]:
        """(figures, problems) once the uploads are over."""
        self.join()
        rows = self.settle()
        states = Counter(rows.get(u.recording_id, {}).get("state", "missing") for u in self.uploads)
        answered_5xx, stored_5xx, by_call = 0, [], Counter()
        for upload in self.uploads:
            row = rows.get(upload.recording_id, {"events": []})
            for method, path, status, at in upload.answers:
                if status < 500:
                    continue
                answered_5xx += 1
                action = "clip.declare" if path.rstrip("/").endswith("/clips") else None
                action = "clip.complete" if path.endswith("/complete") else action
                by_call[
                    f"{path.rstrip('/').rsplit('/', 1)[-1] if action != 'clip.declare' else 'declare'}:{status}"
                ] += 1
                if action and any(a == action and t <= at for a, _o, t in row["events"]):
                    stored_5xx.append((upload.recording_id, method, path, status))
        twice = [
            u.recording_id
            for u in self.uploads
            if u.recording_id in rows
            and (
                sum(a == "clip.complete" for a, _o, _t in rows[u.recording_id]["events"]) != 1
                or sum(a == "clip.verify" for a, _o, _t in rows[u.recording_id]["events"]) != 1
            )
        ]
        verified_at = [r["verified_at"].timestamp() for r in rows.values() if r["verified_at"] is not None]
        recovery = None
        if self.recovered_at is not None and verified_at:
            recovery = round(max(0.0, max(verified_at) - self.recovered_at), 1)
        figures = {
            "clips_uploaded": sum(1 for u in self.uploads if u.recording_id in rows),
            "clips_verified": states["available"],
            "clips_corrupt": states["corrupt"],
            "clips_lost": len(self.uploads) - states["available"] - states["corrupt"],
            "clip_5xx_answered": answered_5xx,
            "clip_5xx_stored": len(stored_5xx),
            "clip_5xx_by_call": ",".join(f"{k}x{n}" for k, n in sorted(by_call.items())) or "-",
            "clip_verify_attempts_max": max((r["attempts"] for r in rows.values()), default=0),
            "s_recovery_to_verified": recovery,
        }
        problems = {
            "clips_not_verified": [
                (u.recording_id, rows.get(u.recording_id, {}).get("state"), u.error)
                for u in self.uploads
                if rows.get(u.recording_id, {}).get("state") != "available"
            ][:5],
            "clip_5xx_stored": stored_5xx[:5],
            "clip_completed_or_verified_not_once": twice[:5],
        }
        return figures, problems


def fresh_clip(stack, camera: dict, tag: str) -> str:
    """A fresh small clip uploaded end to end after the drill; its final state."""
    path = stack.workdir / f"fresh-{tag}.mp4"
    sha256 = write_random_file(path, 3 * MiB + 17)
    end = datetime.now(UTC) - timedelta(minutes=1)
    with ClipUploader(stack.daphnes[0].url, camera["token"], retry_for=60) as client:
        client.poll_max = 0.5
        result = client.upload(
            path,
            recording_id=f"drill-{tag}-fresh-{random.getrandbits(32):08x}",
            started_at=end - timedelta(minutes=1),
            ended_at=end,
            sha256=sha256,
            wait_verified=False,
        )
        return client.wait(result.clip_id, timeout=60)
