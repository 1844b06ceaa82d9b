"""Simulated plate readers: fixed cameras that enroll over the API and post batches of reads.

Protocol only, like camera firmware (httpx, no Django, no app import). Some reads carry a plate
from `hot_plates` (the simulated cars on a hotlist), a few of those as a look-alike misread, so
that hits, similar hits and the hit queue can be seen working. Used by
`python manage.py simulate_fleet --kind alpr` and bench/alpr_ingest.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

log = logging.getLogger("rtcc.simulator")
# what a camera misreads a character as (the server folds these back when matching)
MISREADS = {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G", "O": "0", "B": "8", "S": "5"}


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        super().__init__(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
        )


def random_plate(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(3)) + "".join(
        rng.choice(string.digits) for _ in range(4)
    )


def misread(plate: str, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(plate) if c in MISREADS]
    if not spots:
        return plate
    i = rng.choice(spots)
    return plate[:i] + MISREADS[plate[i]] + plate[i + 1 :]


@dataclass
class Reader:
    id: str
    serial: str
    token: str
    lat: float
    lon: float
    sequence: int = 0
    stats: dict = field(default_factory=lambda: {"sent": 0, "accepted": 0, "duplicates": 0, "hits": 0, "errors": 0})


class PlateReaderFleet:
    """N fixed plate readers around a point, each posting `batch` reads every `interval` seconds."""

    def __init__(
        self,
        base_url: str,
        *,
        count: int,
        it_token: str,
        prefix: str = "SIM",
        center: tuple[float, float] = (40.7128, -74.0060),
        interval: float = 5.0,
        batch: int = 20,
        hot_plates: tuple[str, ...] = (),
        hit_rate: float = 0.02,
        lookalike_rate: float = 0.25,
        seed: int | None = None,
    ) -> None:
        if not 1 <= batch <= 500:
            raise ValueError("batch is 1 to 500 reads")
        self.base_url = base_url.rstrip("/")
        self.count, self.it_token, self.prefix = count, it_token, prefix
        self.center, self.interval, self.batch = center, interval, batch
        self.hot_plates, self.hit_rate, self.lookalike_rate = tuple(hot_plates), hit_rate, lookalike_rate
        self.rng = random.Random(seed)
        self.readers: list[Reader] = []
        self.http: httpx.AsyncClient | None = None
        self._stop = asyncio.Event()

    async def __aenter__(self) -> PlateReaderFleet:
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=30, trust_env=False)
        return self

    async def __aexit__(self, *exc) -> None:
        if self.http is not None:
            await self.http.aclose()

    async def _call(self, method: str, path: str, *, token: str | None = None, ok=(200, 201), **kwargs):
        assert self.http is not None, "use the fleet as an async context manager"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code not in ok:
            raise ApiError(response)
        return response.json()

    async def _provision_one(self, index: int) -> Reader:
        serial = f"{self.prefix}-alpr-{index + 1:05d}"
        lat = self.center[0] + self.rng.uniform(-0.02, 0.02)
        lon = self.center[1] + self.rng.uniform(-0.02, 0.02)
        try:
            body = await self._call(
                "POST",
                "/api/v1/devices",
                token=self.it_token,
                json={
                    "kind": "alpr",
                    "serial": serial,
                    "label": f"Sim reader {index + 1}",
                    "location": {"lat": lat, "lon": lon},
                },
            )
            device_id, code = body["id"], body["enrollment_code"]
        except ApiError as exc:
            if exc.status != 409:
                raise
            found = await self._call(
                "GET", "/api/v1/devices", token=self.it_token, params={"kind": "alpr", "serial": serial}
            )
            device_id = found["results"][0]["id"]
            location = found["results"][0].get("location") or {}
            lat, lon = location.get("lat", lat), location.get("lon", lon)
            code = (await self._call("POST", f"/api/v1/devices/{device_id}/enrollment", token=self.it_token))[
                "enrollment_code"
            ]
        enrolled = await self._call("POST", "/api/v1/enroll", json={"serial": serial, "code": code})
        return Reader(id=device_id, serial=serial, token=enrolled["token"], lat=lat, lon=lon)

    async def provision(self) -> list[Reader]:
        self.readers = [await self._provision_one(i) for i in range(self.count)]
        return self.readers

    def make_batch(self, reader: Reader, size: int | None = None) -> list[dict]:
        reads = []
        now = datetime.now(UTC).isoformat()
        for _ in range(size or self.batch):
            reader.sequence += 1
            plate = random_plate(self.rng)
            if self.hot_plates and self.rng.random() < self.hit_rate:
                plate = self.rng.choice(self.hot_plates)
                if self.rng.random() < self.lookalike_rate:
                    plate = misread(plate, self.rng)
            reads.append(
                {
                    "read_id": f"{reader.serial}-{reader.sequence}",
                    "plate": plate,
                    "confidence": round(self.rng.uniform(0.7, 0.99), 2),
                    "read_at": now,
                    "heading": self.rng.choice([0, 90, 180, 270]),
                }
            )
        return reads

    async def post_batch(self, reader: Reader, reads: list[dict]) -> dict:
        body = await self._call("POST", "/api/v1/plate-reads", token=reader.token, json={"reads": reads})
        reader.stats["sent"] += len(reads)
        reader.stats["accepted"] += body["accepted"]
        reader.stats["duplicates"] += body["duplicates"]
        reader.stats["hits"] += len(body["hits"])
        return body

    async def _run_reader(self, reader: Reader) -> None:
        await asyncio.sleep(self.rng.uniform(0, self.interval))  # spread the readers out
        while not self._stop.is_set():
            try:
                await self.post_batch(reader, self.make_batch(reader))
            except (ApiError, httpx.HTTPError) as exc:
                reader.stats["errors"] += 1
                log.warning("%s: %s", reader.serial, exc)
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
            except TimeoutError:
                pass

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, duration: float | None = None) -> None:
        tasks = [asyncio.create_task(self._run_reader(r)) for r in self.readers]
        try:
            if duration is not None:
                try:
                    await asyncio.wait_for(self._stop.wait(), duration)
                except TimeoutError:
                    pass
            else:
                await self._stop.wait()
        finally:
            self._stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    def summary(self) -> dict:
        total = {"readers": len(self.readers), "sent": 0, "accepted": 0, "duplicates": 0, "hits": 0, "errors": 0}
        for reader in self.readers:
            for key, value in reader.stats.items():
                total[key] += value
        return total
