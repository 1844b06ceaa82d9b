"""A fleet of simulated bodycams and phones speaking the real protocol over HTTP and websockets.

Registers devices with an IT token, enrolls each with its code, keeps one websocket per device
open (reconnecting with backoff, stopping a device that is refused with 4401/4403), sends
status frames (battery draining, location jittering around a point) and obeys recording
commands: ack, act once per command id, result, then a fresh status frame.

A camera uploads each recording it stops with the clip client (apps.simulator.client) unless
the caller passes its own `on_recording_stopped` hook.
Used by `python manage.py simulate_fleet`, the demo and bench/. No Django import here: it
runs against any server it can reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from .client import upload_recording
from .live import LiveStreamer

log = logging.getLogger("rtcc.simulator")

CLOSE_REFUSED = {4401, 4403}  # bad or revoked token: reconnecting cannot help
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
REMEMBERED_COMMANDS = 256


@dataclass
class DeviceState:
    """One simulated device: its identity, its credentials and what it is doing."""

    id: str
    serial: str
    kind: str
    token: str
    base_url: str
    recording: bool = False
    battery_pct: int = 100
    storage_free_mb: int = 64_000
    lat: float = 0.0
    lon: float = 0.0
    accuracy_m: float = 8.0
    recording_id: str | None = None
    recording_started_at: datetime | None = None
    connected: bool = False
    stopped: bool = False  # refused by the server (revoked): the simulator leaves it alone
    close_code: int | None = None
    connects: int = 0
    frames_sent: int = 0
    commands_acted: int = 0
    errors_received: list = field(default_factory=list)
    handled: OrderedDict = field(default_factory=OrderedDict)  # command id -> (ok, error)
    http: httpx.AsyncClient | None = None  # for hooks that call the API as this device
    extra: dict = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def status_frame(self) -> dict:
        return {
            "type": "status",
            "recording": self.recording,
            "battery_pct": self.battery_pct,
            "storage_free_mb": self.storage_free_mb,
            "location": {"lat": round(self.lat, 6), "lon": round(self.lon, 6), "accuracy_m": self.accuracy_m},
        }

    def tick(self, center: tuple[float, float], rng: random.Random) -> None:
        """Time passes: the battery drains (a fresh one goes in when flat), the officer moves."""
        self.battery_pct -= 1 if rng.random() < 0.3 else 0
        if self.battery_pct < 5:
            self.battery_pct = 100
        if self.recording:
            self.storage_free_mb = max(0, self.storage_free_mb - rng.randint(5, 20))
        self.lat = center[0] + max(-0.01, min(0.01, self.lat - center[0] + rng.uniform(-0.0004, 0.0004)))
        self.lon = center[1] + max(-0.01, min(0.01, self.lon - center[1] + rng.uniform(-0.0004, 0.0004)))
        self.accuracy_m = round(rng.uniform(3, 25), 1)


RecordingHook = Callable[[DeviceState, str, datetime, datetime], Awaitable[None] | None]


async def on_recording_stopped(
    device_state: DeviceState, recording_id: str, started_at: datetime, ended_at: datetime
) -> None:
    """Called once each time a simulated camera stops recording: it uploads the clip through the
    clips protocol (RTCC_SIM_CLIPS=false turns that off, e.g. in command benches)."""
    await upload_recording(device_state, recording_id, started_at, ended_at)


def ws_url_for(base_url: str) -> str:
    scheme, rest = base_url.rstrip("/").split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/device/"


async def connect_device(base_url: str, token: str, **kwargs):
    """A device websocket as firmware opens it: Bearer header, no Origin, no compression."""
    from websockets.asyncio.client import connect

    options: dict[str, Any] = {
        "additional_headers": {"Authorization": f"Bearer {token}"},
        "compression": None,
        "proxy": None,
        "open_timeout": 20,
        "close_timeout": 2,
        "user_agent_header": "rtcc-simulator",
    }
    options.update(kwargs)
    return await connect(ws_url_for(base_url), **options)


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
        )
        self.status = response.status_code


class Fleet:
    """N simulated devices against one server."""

    def __init__(
        self,
        base_url: str,
        *,
        count: int,
        kind: str = "mixed",
        it_token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        prefix: str = "SIM",
        status_interval: float = 10.0,
        center: tuple[float, float] = (40.7128, -74.0060),
        on_recording_stopped: RecordingHook | None = None,
        concurrency: int = 16,
        seed: int | None = None,
        assign_to: tuple[str, ...] = (),
    ) -> None:
        if kind not in ("bodycam", "phone", "mixed"):
            raise ValueError("kind is bodycam, phone or mixed")
        self.base_url = base_url.rstrip("/")
        self.count, self.kind, self.prefix = count, kind, prefix
        self.it_token, self.username, self.password = it_token, username, password
        self.status_interval, self.center = status_interval, center
        self.hook = on_recording_stopped or globals()["on_recording_stopped"]
        self.concurrency = concurrency
        self.assign_to = tuple(assign_to)  # officers' usernames: device i of a kind goes to officer i
        self.rng = random.Random(seed)
        self.devices: list[DeviceState] = []
        self.http: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task] = []
        self._hooks: set[asyncio.Task] = set()
        self._stop = asyncio.Event()

    # Provisioning over the API --------------------------------------------------------------

    async def __aenter__(self) -> Fleet:
        limits = httpx.Limits(max_connections=self.concurrency * 2, max_keepalive_connections=self.concurrency)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=30, limits=limits, trust_env=False)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
        if self.http is not None:
            await self.http.aclose()

    async def _call(self, method: str, path: str, *, token: str | None = None, ok=(200, 201), **kwargs):
        """One API call; a server that is starting, busy (429, 503) or briefly gone is retried."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        delay = BACKOFF_FIRST
        for attempt in range(8):
            try:
                if self.http is None:
                    raise RuntimeError("the fleet is not started")
                response = await self.http.request(method, path, headers=headers, **kwargs)
            except (httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError) as exc:
                if attempt == 7:
                    raise
                log.info("%s %s: %s; retrying in %.1fs", method, path, exc, delay)
            else:
                if response.status_code in ok:
                    return response.json()
                if response.status_code not in (429, 502, 503, 504) or attempt == 7:
                    raise ApiError(response)
                retry_after = response.headers.get("Retry-After", "")
                delay = max(delay, float(retry_after)) if retry_after.isdigit() else delay
            await asyncio.sleep(min(delay, BACKOFF_MAX))
            delay = min(BACKOFF_MAX, delay * 2)
        raise RuntimeError("unreachable")

    async def login(self) -> str:
        if self.it_token is None:
            if not (self.username and self.password):
                raise ValueError("give an IT token, or the username and password of an IT account")
            body = await self._call(
                "POST", "/api/v1/auth/token", json={"username": self.username, "password": self.password}
            )
            self.it_token = body["token"]
        return self.it_token

    def kind_of(self, index: int) -> str:
        if self.kind != "mixed":
            return self.kind
        return "bodycam" if index % 2 == 0 else "phone"

    async def _provision_one(self, index: int) -> DeviceState:
        kind = self.kind_of(index)
        serial = f"{self.prefix}-{kind}-{index + 1:05d}"
        try:
            body = await self._call(
                "POST",
                "/api/v1/devices",
                token=self.it_token,
                json={"kind": kind, "serial": serial, "model": f"sim-{kind}", "label": f"Sim {kind} {index + 1}"},
            )
            device_id, code = body["id"], body["enrollment_code"]
        except ApiError as exc:
            if exc.status != 409:
                raise
            # registered by an earlier run: a fresh code re-enrolls it (its old token stops)
            found = await self._call(
                "GET", "/api/v1/devices", token=self.it_token, params={"kind": kind, "serial": serial}
            )
            device_id = found["results"][0]["id"]
            code = (await self._call("POST", f"/api/v1/devices/{device_id}/enrollment", token=self.it_token))[
                "enrollment_code"
            ]
        enrolled = await self._call("POST", "/api/v1/enroll", json={"serial": serial, "code": code})
        if kind == "phone":
            # What the officer app does once it has a token: tell rtcc where to push. The same
            # token on every run, as a real phone keeps its FCM token until FCM rotates it (the
            # phone's notifications, read by that token, then survive a demo restart).
            await self._call(
                "PUT", "/api/v1/device/push-token", token=enrolled["token"], json={"token": f"sim-{serial}"}
            )
        state = DeviceState(
            id=enrolled["device_id"],
            serial=serial,
            kind=kind,
            token=enrolled["token"],
            base_url=self.base_url,
            http=self.http,
            battery_pct=self.rng.randint(40, 100),
            storage_free_mb=self.rng.randint(8_000, 64_000),
            lat=self.center[0] + self.rng.uniform(-0.005, 0.005),
            lon=self.center[1] + self.rng.uniform(-0.005, 0.005),
        )
        return state

    async def provision(self) -> list[DeviceState]:
        """Registers (or re-enrolls) and enrolls every device over the API."""
        await self.login()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(index: int) -> DeviceState:
            async with gate:
                return await self._provision_one(index)

        self.devices = list(await asyncio.gather(*(one(i) for i in range(self.count))))
        if self.assign_to:
            await self.assign()
        return self.devices

    async def assign(self) -> None:
        """Hands the n-th camera and the n-th phone to the n-th officer of `assign_to` (round robin)."""
        officers = {}
        page = await self._call(
            "GET", "/api/v1/users", token=self.it_token, params={"role": "officer", "page_size": 500}
        )
        for user in page["results"]:
            officers[user["username"]] = user["id"]
        missing = [name for name in self.assign_to if name not in officers]
        if missing:
            raise ValueError(f"no officer named {', '.join(missing)} on the server")
        seen: dict[str, int] = {}
        for state in self.devices:
            n = seen.get(state.kind, 0)
            seen[state.kind] = n + 1
            officer = officers[self.assign_to[n % len(self.assign_to)]]
            await self._call(
                "POST", f"/api/v1/devices/{state.id}/assign", token=self.it_token, json={"officer": officer}
            )

    def adopt(self, states: list[DeviceState]) -> None:
        """Use devices provisioned elsewhere (e.g. straight in the database by a benchmark)."""
        for state in states:
            state.http = state.http or self.http
        self.devices = list(states)

    # Running ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._tasks = [
            asyncio.get_running_loop().create_task(self._device_loop(state), name=f"sim-{state.serial}")
            for state in self.devices
        ]

    async def run(self, duration: float | None = None) -> None:
        """Connects every device and keeps it going, for `duration` seconds or until stopped."""
        if not self._tasks:
            self.start()
        try:
            if duration is None:
                await self._stop.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=duration)
        finally:
            await self.stop()

    def request_stop(self) -> None:
        """Ends `run` soon (safe from a signal handler)."""
        self._stop.set()

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._hooks:
            await asyncio.gather(*self._hooks, return_exceptions=True)

    async def wait_connected(self, timeout: float = 30) -> bool:
        """True once every device that is not stopped has an open socket; False after `timeout`,
        or at once when the fleet is asked to stop (SIGTERM: its server may be gone for good)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and not self._stop.is_set():
            if all(d.connected or d.stopped for d in self.devices):
                return True
            await asyncio.sleep(0.05)
        return False

    async def _device_loop(self, state: DeviceState) -> None:
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        backoff = BACKOFF_FIRST
        # spread the first connects and status frames so a fleet does not arrive in one burst
        await asyncio.sleep(self.rng.uniform(0, min(1.0, self.status_interval)))
        while not self._stop.is_set() and not state.stopped:
            try:
                ws = await connect_device(self.base_url, state.token)
            except InvalidStatus as exc:
                if exc.response.status_code in (401, 403):
                    state.stopped = True
                    return
                log.info("%s: handshake refused (%s); retrying", state.serial, exc.response.status_code)
            except (OSError, TimeoutError, ConnectionClosed) as exc:
                log.info("%s: cannot connect (%s); retrying in %.1fs", state.serial, exc, backoff)
            else:
                state.connects += 1
                state.connected = True
                backoff = BACKOFF_FIRST
                try:
                    await self._session(ws, state)
                except ConnectionClosed:
                    pass
                finally:
                    state.connected = False
                    state.close_code = ws.close_code
                    with contextlib.suppress(Exception):
                        await ws.close()
                if state.close_code in CLOSE_REFUSED:
                    log.warning(
                        "%s: closed by the server with %s; stopping this device", state.serial, state.close_code
                    )
                    state.stopped = True
                    return
            await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.0))
            backoff = min(BACKOFF_MAX, backoff * 2)

    async def _session(self, ws, state: DeviceState) -> None:
        async def send(frame: dict) -> None:
            await ws.send(json.dumps(frame))
            state.frames_sent += 1

        async def status_loop() -> None:
            while True:
                await send(state.status_frame())
                await asyncio.sleep(self.status_interval * self.rng.uniform(0.8, 1.2))
                state.tick(self.center, self.rng)

        sender = asyncio.get_running_loop().create_task(status_loop())
        try:
            async for message in ws:
                try:
                    frame = json.loads(message)
                except ValueError:
                    continue
                if not isinstance(frame, dict):
                    continue
                if frame.get("type") == "command" and isinstance(frame.get("command"), dict):
                    await self.handle_command(state, frame["command"], send)
                elif frame.get("type") == "live" and isinstance(frame.get("live"), dict):
                    self.handle_live(state, frame["action"], frame["live"])
                elif frame.get("type") == "error":
                    state.errors_received.append(frame)
                    del state.errors_received[:-20]
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            if state.extra.get("live") is not None:
                state.extra["live"].stop()  # a dropped socket ends the session on the server too

    async def handle_command(self, state: DeviceState, command: dict, send: Callable[[dict], Awaitable[None]]) -> None:
        """PROTOCOL "Device websocket": ack, act once per command id, result, status."""
        command_id = command.get("id")
        if not isinstance(command_id, str):
            return
        await send({"type": "ack", "command_id": command_id})
        outcome = state.handled.get(command_id)
        if outcome is None:
            state.extra["command_id"] = command_id
            outcome = self.act(state, command.get("action"))
            state.handled[command_id] = outcome
            while len(state.handled) > REMEMBERED_COMMANDS:
                state.handled.popitem(last=False)
        ok, error = outcome
        result: dict[str, Any] = {"type": "result", "command_id": command_id, "ok": ok}
        if error:
            result["error"] = error
        await send(result)
        await send(state.status_frame())

    def handle_live(self, state: DeviceState, action, live: dict) -> None:
        """PROTOCOL "Live view": stream fMP4 segments while asked to (and recording), stop when told."""
        streamer = state.extra.get("live")
        if streamer is None:
            http = state.http or self.http
            assert http is not None, "the fleet's HTTP client is open while devices run"
            streamer = state.extra["live"] = LiveStreamer(http, state.token)
        if action == "start" and state.recording and isinstance(live.get("upload_url"), str):
            streamer.start(live)
        elif action == "stop":
            streamer.stop(live.get("id"))

    def act(self, state: DeviceState, action) -> tuple[bool, str | None]:
        state.commands_acted += 1
        now = datetime.now(UTC)
        if action == "start_recording":
            if not state.recording:
                state.recording = True
                state.recording_id = str(uuid.uuid4())
                state.recording_started_at = now
                state.extra["recording_command_id"] = state.extra.get("command_id")  # the clip links it
            return True, None
        if action == "stop_recording":
            if state.recording and state.recording_id and state.recording_started_at:
                recording_id, started_at = state.recording_id, state.recording_started_at
                state.recording, state.recording_id, state.recording_started_at = False, None, None
                if state.extra.get("live") is not None:
                    state.extra["live"].stop()
                self._call_hook(state, recording_id, started_at, now)
            return True, None
        return False, f"unsupported action {action!r}"

    def _call_hook(self, state: DeviceState, recording_id: str, started_at: datetime, ended_at: datetime) -> None:
        async def call() -> None:
            try:
                result = self.hook(state, recording_id, started_at, ended_at)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("%s: on_recording_stopped failed", state.serial)

        task = asyncio.get_running_loop().create_task(call())
        self._hooks.add(task)
        task.add_done_callback(self._hooks.discard)

    def summary(self) -> dict:
        return {
            "devices": len(self.devices),
            "connected": sum(d.connected for d in self.devices),
            "stopped": sum(d.stopped for d in self.devices),
            "recording": sum(d.recording for d in self.devices),
            "frames_sent": sum(d.frames_sent for d in self.devices),
            "commands_acted": sum(d.commands_acted for d in self.devices),
        }
