"""Real devices for the console's end-to-end tests: the fleet simulator in a background thread,
and a camera that uploads a clip, both over the real protocol against a live server."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from apps.simulator.fleet import DeviceState, Fleet


def simulated(
    base_url: str,
    device_id: str,
    token: str,
    *,
    serial: str,
    kind: str = "bodycam",
    lat: float = 40.7128,
    lon: float = -74.0060,
) -> DeviceState:
    return DeviceState(
        id=device_id,
        serial=serial,
        kind=kind,
        token=token,
        base_url=base_url,
        lat=lat,
        lon=lon,
        battery_pct=76,
        storage_free_mb=41_000,
    )


class BackgroundFleet:
    """`with BackgroundFleet(url, [DeviceState, ...]) as fleet:` enrolled devices run by the fleet
    simulator (connected, reporting status, obeying commands) while the test drives a browser."""

    def __init__(
        self, base_url: str, devices: list[DeviceState], *, center: tuple[float, float] = (40.7128, -74.0060)
    ) -> None:
        self.devices = devices
        self.fleet = Fleet(
            base_url, count=len(devices), kind="mixed", it_token="unused", status_interval=1.0, center=center, seed=7
        )
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name="e2e-fleet", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            async with self.fleet:
                self.fleet.adopt(self.devices)
                self.fleet.start()
                await self.fleet.wait_connected(timeout=30)
                self.ready.set()
                await self.fleet.run()

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the test by __enter__
            self.error = exc
            self.ready.set()

    def __enter__(self) -> Fleet:
        self.thread.start()
        if not self.ready.wait(60) or self.error is not None:
            raise RuntimeError(f"the simulated fleet did not start: {self.error!r}")
        return self.fleet

    def __exit__(self, *exc) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.fleet.request_stop)
        self.thread.join(15)


def call(base_url: str, token: str, method: str, path: str, **kwargs) -> dict:
    """One API call over HTTP (the test's own thread has Playwright's event loop, so set-up goes
    through the live server, as a person or device would do it)."""
    response = httpx.request(
        method, f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, trust_env=False, **kwargs
    )
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text[:300]}"
    return response.json() if response.content else {}


def register_and_enroll(
    base_url: str, it_token: str, *, kind: str, serial: str, location: dict | None = None
) -> tuple[str, str]:
    """(device id, device token), through the API as IT would and the device would; `location`:
    where a plate reader stands."""
    with httpx.Client(base_url=base_url, timeout=30, trust_env=False) as http:
        headers = {"Authorization": f"Bearer {it_token}"}
        body = {"kind": kind, "serial": serial, **({"location": location} if location else {})}
        created = http.post("/api/v1/devices", json=body, headers=headers)
        created.raise_for_status()
        enrolled = http.post("/api/v1/enroll", json={"serial": serial, "code": created.json()["enrollment_code"]})
        enrolled.raise_for_status()
        return enrolled.json()["device_id"], enrolled.json()["token"]


def upload_clip(
    base_url: str,
    device_token: str,
    workdir: Path,
    *,
    size: int = 256 * 1024,
    minutes_ago: int = 5,
    command_id: str | None = None,
) -> tuple[str, str]:
    """A camera uploads one clip (declare, parts, complete) and waits for verification: (clip id,
    sha256). With `command_id`, a recording the center started (trigger remote)."""
    from apps.simulator.client import ClipUploader, write_random_file

    path = workdir / f"clip-{uuid.uuid4().hex}.mp4"
    sha256 = write_random_file(path, size, seed=11)
    ended = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with ClipUploader(base_url, device_token) as uploader:
        result = uploader.upload(
            path,
            recording_id=str(uuid.uuid4()),
            started_at=ended - timedelta(seconds=75),
            ended_at=ended,
            sha256=sha256,
            trigger="remote" if command_id else "manual",
            command_id=command_id,
            location={"lat": 40.7128, "lon": -74.006},
        )
    assert result.state == "available", result
    return result.clip_id, sha256
