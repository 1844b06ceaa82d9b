"""The drill stack (private PostgreSQL and Redis, two daphne processes, a prefork worker, beat)
and the simulated fleet that talks to it over the real device websocket.

Scale comes from the environment, small by default so that CI runs every drill in a few
minutes on two cores: RTCC_DRILL_DEVICES (20), RTCC_DRILL_COMMANDS per drill (80),
RTCC_DRILL_RATE commands per second (20). The issue's drill was 200 cameras and 1,200 commands
at 20 a second: RTCC_DRILL_DEVICES=200 RTCC_DRILL_COMMANDS=1200 RTCC_DRILL_RATE=20.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .procs import (
    ROOT,
    Daphne,
    PrivatePostgres,
    PrivateRedis,
    PrivateSeaweed,
    celery_beat,
    celery_worker,
    manage,
    rtcc_env,
    wait_until,
)

DEVICES = int(os.environ.get("RTCC_DRILL_DEVICES", "20"))
COMMANDS = int(os.environ.get("RTCC_DRILL_COMMANDS", "80"))
RATE = float(os.environ.get("RTCC_DRILL_RATE", "20"))
DRAIN_TIMEOUT = 90.0


class Stack:
    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="rtcc-drill-"))
        self.pg = PrivatePostgres(self.workdir)
        self.redis = PrivateRedis(self.workdir)
        self.s3 = PrivateSeaweed(self.workdir)
        self.daphnes: list[Daphne] = []
        self.worker = None
        self.beat = None
        self.env: dict = {}

    def start(self) -> None:
        self.pg.init()
        self.redis.start()
        self.s3.start()
        self.env = rtcc_env(
            DATABASE_URL=self.pg.url,
            REDIS_URL=self.redis.url,
            RTCC_DATA_DIR=self.workdir / "data",
            RTCC_DB_POOL_SIZE=10,
            **self.s3.env(),
        )
        manage(self.env, "migrate", "--verbosity", "0")
        self.daphnes = [Daphne(self.env, self.workdir, name=f"daphne{n}").start() for n in range(2)]
        self.worker = celery_worker(self.env, self.workdir).start()
        self.beat = celery_beat(self.env, self.workdir).start()

    def seed(self, count: int) -> dict:
        out = manage(
            {**self.env, "DRILL_DEVICES": str(count)},
            "shell",
            stdin=(ROOT / "tests" / "drills" / "seed.py").read_text(),
        )
        line = next(line for line in out.splitlines() if line.startswith("DRILL-SEED "))
        return json.loads(line.removeprefix("DRILL-SEED "))

    def report(self, reasons: list[str]) -> dict:
        path = self.workdir / "reasons.json"
        path.write_text(json.dumps(reasons))
        out = manage(
            {**self.env, "DRILL_REASONS_FILE": str(path)},
            "shell",
            stdin=(ROOT / "tests" / "drills" / "report.py").read_text(),
        )
        line = next(line for line in out.splitlines() if line.startswith("DRILL-REPORT "))
        return json.loads(line.removeprefix("DRILL-REPORT "))

    def stop(self) -> None:
        for proc in [self.beat, self.worker, *self.daphnes]:
            if proc is not None:
                proc.stop()
        self.redis.stop()
        self.s3.stop()
        self.pg.destroy()
        # The logs stay (for a failure); the stored objects and the clip files (GiBs) go.
        shutil.rmtree(self.s3.dir, ignore_errors=True)
        for clips in self.workdir.glob("clips-*"):
            shutil.rmtree(clips, ignore_errors=True)
        for fresh in self.workdir.glob("fresh-*.mp4"):
            fresh.unlink()

    def logs(self) -> str:
        parts = []
        for proc in [self.worker, self.beat, *self.daphnes, self.s3]:
            if proc is not None:
                parts.append(f"--- {proc.name}\n{proc.tail(2500)}")
        return "\n".join(parts)


@dataclass
class Outcome:
    reason: str
    camera: dict
    status: int | None = None  # None: no answer (connection cut)
    command_id: str | None = None


@dataclass
class Fleet:
    """Simulated bodycams: connect (failing over between the daphne processes), ack and report
    each command, act once per command id, and send their reports again when told `unavailable`."""

    cameras: list[dict]
    urls: list[str]
    received: Counter = field(default_factory=Counter)
    acted: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    connects: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.stopping = False
        self.tasks: list = []

    def start(self) -> None:
        self.thread.start()
        for index, camera in enumerate(self.cameras):
            self.tasks.append(asyncio.run_coroutine_threadsafe(self._device(camera, index), self.loop))

    def run(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.stopping = True

        async def cancel_all() -> None:
            current = asyncio.current_task()
            others = [task for task in asyncio.all_tasks() if task is not current]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        try:
            self.run(cancel_all(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)

    async def _device(self, camera: dict, index: int) -> None:
        from websockets.asyncio.client import connect

        attempt = index
        while not self.stopping:
            url = self.urls[attempt % len(self.urls)].replace("http://", "ws://")
            attempt += 1
            try:
                async with connect(
                    f"{url}/ws/device/",
                    additional_headers={"Authorization": f"Bearer {camera['token']}"},
                    open_timeout=5,
                    close_timeout=1,
                ) as ws:
                    self.connects[camera["id"]] += 1
                    recent: list[str] = []
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame.get("type") == "command":
                            command_id = frame["command"]["id"]
                            self.received[command_id] += 1
                            recent = [*recent[-50:], command_id]
                            await ws.send(json.dumps({"type": "ack", "command_id": command_id}))
                            if not self.acted[command_id]:  # the device acts once per command id
                                self.acted[command_id] += 1
                            await ws.send(json.dumps({"type": "result", "command_id": command_id, "ok": True}))
                        elif frame.get("type") == "error":
                            self.errors[frame.get("code")] += 1
                            if frame.get("code") == "unavailable":  # reports again, a moment later
                                await asyncio.sleep(1)
                                for command_id in recent:
                                    await ws.send(json.dumps({"type": "ack", "command_id": command_id}))
                                    await ws.send(json.dumps({"type": "result", "command_id": command_id, "ok": True}))
            except asyncio.CancelledError:
                return
            except Exception:
                pass
            await asyncio.sleep(0.2 + random.random() * 0.5)

    async def post_commands(self, operator_token: str, *, count: int, rate: float, tag: str) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with httpx.AsyncClient(timeout=15, headers={"Authorization": f"Bearer {operator_token}"}) as client:

            async def one(n: int) -> None:
                camera = self.cameras[n % len(self.cameras)]
                outcome = Outcome(reason=f"drill {tag} #{n}", camera=camera)
                outcomes.append(outcome)
                url = self.urls[n % len(self.urls)]
                try:
                    response = await client.post(
                        f"{url}/api/v1/devices/{camera['id']}/commands",
                        json={"action": "start_recording", "reason": outcome.reason, "ttl_seconds": 600},
                    )
                    outcome.status = response.status_code
                    if response.status_code == 202:
                        outcome.command_id = response.json()["id"]
                except httpx.HTTPError:
                    outcome.status = None

            pending = []
            started = time.monotonic()
            for n in range(count):
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
                pending.append(asyncio.ensure_future(one(n)))
            await asyncio.gather(*pending)
        return outcomes


@dataclass
class ConsoleListener:
    """An operator's console socket on one web process, open for the whole drill (never
    reconnected): what it receives, and whether it is still open."""

    url: str
    token: str
    frames: list = field(default_factory=list)
    closed: object = None  # why the socket ended, once it has

    async def listen(self) -> None:
        from websockets.asyncio.client import connect

        try:
            async with connect(
                f"{self.url.replace('http://', 'ws://')}/ws/console/",
                additional_headers={"Authorization": f"Bearer {self.token}"},
                open_timeout=5,
                close_timeout=1,
            ) as ws:
                async for raw in ws:
                    self.frames.append(json.loads(raw))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.closed = exc
        else:
            self.closed = "closed by the server"

    def saw_command(self, command_id: str) -> bool:
        return any(f.get("type") == "command.update" and f["command"]["id"] == command_id for f in self.frames)


def readyz(url: str) -> tuple[int, dict]:
    try:
        response = httpx.get(f"{url}/readyz", timeout=10)
        return response.status_code, response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return 0, {"error": str(exc)}


def fcm_notices(fcm: str, phone_tokens: set[str]) -> Counter:
    """(phone token, command id) -> notices the FCM fake accepted."""
    counts: Counter = Counter()
    for row in httpx.get(f"{fcm}/_messages", timeout=10).json():
        message = row["message"]
        data = message.get("data") or {}
        if message.get("token") in phone_tokens and data.get("type") == "command.notice":
            counts[(message["token"], data["command_id"])] += 1
    return counts


def wait_healthy(stack: Stack, timeout: float = 60) -> None:
    """Every web process ready again, with the worker and beat seen: no restart by hand."""

    def healthy() -> bool:
        for daphne in stack.daphnes:
            status, body = readyz(daphne.url)
            if status != 200 or body.get("status") != "ok":
                return False
        return True

    try:
        wait_until(healthy, timeout=timeout, what="the service healthy again", interval=0.5)
    except TimeoutError:
        bodies = [readyz(d.url) for d in stack.daphnes]
        raise AssertionError(f"not healthy after the drill: {bodies}\n{stack.logs()}") from None
