"""Status frames per second ONE daphne process absorbs, with every device's latest state correct
afterwards, and the database writes per second that caused.

Goal (issue #3): at least 2,000 status frames per second on this 2-core machine; presence must
not turn into one database write per frame.

    # production shape: PostgreSQL + Redis (the database writes are counted from PostgreSQL's statistics)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rtcc_bench_devices REDIS_URL=redis://127.0.0.1:6379/1 \
        .venv/bin/python bench/presence_status.py --devices 1000 --duration 35
    # embedded default (SQLite, in-process presence; database writes not counted)
    .venv/bin/python bench/presence_status.py

Every device sends status frames (battery, storage, location changing with each frame) as fast
as the server takes them. Absorbed means processed by the server, not merely sent: after every
`--batch` frames a device sends one unusable frame and waits for the server's error answer, which
comes only once the frames before it were handled (one socket's frames are handled in order).
Afterwards the API must show, for every device, exactly the last frame it sent. The run lasts
longer than the write-through interval (30 s by default) so the database figure includes the
periodic write-through, not only the writes at connect.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

from fleet_common import (
    Server,
    api_get_all,
    connect_all,
    device_writes,
    it_token,
    provision,
    raise_open_files,
    ratio,
    setup_django,
)

GOAL_FRAMES_PER_S = 2000.0
PROBE = json.dumps({"type": "status"})  # no "recording": the server answers with an error


def frame(index: int, seq: int, *, recording: bool = False) -> dict:
    return {
        "type": "status",
        "recording": recording,
        "battery_pct": seq % 101,
        "storage_free_mb": seq,
        "location": {"lat": 10 + (seq % 10_000) / 10_000, "lon": 20 + index / 100_000, "accuracy_m": 5.0},
    }


async def device_run(ws, index: int, deadline: float, batch: int) -> int:
    """Sends until the deadline; returns the last sequence number (all of them absorbed)."""
    seq = 0
    while time.monotonic() < deadline:
        for _ in range(batch):
            seq += 1
            await ws.send(json.dumps(frame(index, seq)))
        await ws.send(PROBE)
        reply = json.loads(await ws.recv())
        assert reply["type"] == "error", reply
    seq += 1  # the final frame: half the fleet starts recording (a change is written through at once)
    await ws.send(json.dumps(frame(index, seq, recording=index % 2 == 0)))
    await ws.send(PROBE)
    await ws.recv()
    return seq


async def measure(devices: list[tuple[str, str]], token: str, duration: float, batch: int) -> None:
    # the frame budget off (bench/presence_status_settings.py): each device floods by design
    bench_dir = Path(__file__).resolve().parent
    server = Server(
        env={
            "DJANGO_SETTINGS_MODULE": "presence_status_settings",
            "PYTHONPATH": os.pathsep.join([str(bench_dir), str(bench_dir.parent), os.environ.get("PYTHONPATH", "")]),
        }
    )
    sockets: list = []
    try:
        sockets = await connect_all(server.url, [t for _, t in devices])
        if any(ws is None for ws in sockets):
            raise SystemExit("not every device could connect")
        print(f"{len(sockets)} devices connected; sending for {duration:.0f}s", flush=True)
        await asyncio.sleep(2.0)  # connect-time writes settle out of the measured window
        writes_before = await asyncio.to_thread(device_writes)
        cpu_before = server.cpu_seconds()
        started = time.monotonic()
        last = await asyncio.gather(*(device_run(ws, n, started + duration, batch) for n, ws in enumerate(sockets)))
        elapsed = time.monotonic() - started
        cpu = server.cpu_seconds() - cpu_before
        await asyncio.sleep(2.0)  # PostgreSQL publishes its counters with a delay
        writes_after = await asyncio.to_thread(device_writes)

        frames = sum(last)
        probes = frames // batch + len(sockets)
        rate = frames / elapsed
        rows = {row["id"]: row for row in await api_get_all(server.url, token, "/api/v1/devices")}
        correct = 0
        for n, ((device_id, _), seq) in enumerate(zip(devices, last, strict=True)):
            row, want = rows.get(device_id), frame(n, seq, recording=n % 2 == 0)
            if (
                row
                and row["online"]
                and row["storage_free_mb"] == seq
                and row["battery_pct"] == want["battery_pct"]
                and row["recording"] == want["recording"]
                and abs(row["location"]["lat"] - want["location"]["lat"]) < 1e-9
                and abs(row["location"]["lon"] - want["location"]["lon"]) < 1e-9
            ):
                correct += 1
        print(f"frames absorbed: {frames} status (+{probes} probes) in {elapsed:.1f}s; daphne used {cpu:.1f} CPU-s")
        print(f"latest state correct (API, live presence merged): {correct}/{len(devices)} devices")
        if writes_before is None or writes_after is None:
            writes_text = "database writes: not counted on SQLite"
        else:
            writes = writes_after - writes_before
            writes_text = (
                f"database writes: {writes} device rows = {writes / elapsed:.1f}/s "
                f"(one per {frames / max(1, writes):.0f} frames)"
            )
        print(
            f"RESULT status frames per second: {rate:.0f}/s -> {ratio(rate, GOAL_FRAMES_PER_S)} "
            f"(goal >= {GOAL_FRAMES_PER_S:.0f}/s); {writes_text}"
        )
        if correct != len(devices):
            raise SystemExit("FAILED: some device's latest state is wrong")
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets if ws is not None), return_exceptions=True)
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=35.0, help="seconds of sending")
    parser.add_argument("--batch", type=int, default=20, help="status frames between two probes")
    args = parser.parse_args()
    raise_open_files()
    print(f"setup: {setup_django()}")
    devices = provision(args.devices)
    asyncio.run(measure(devices, it_token(), args.duration, args.batch))


if __name__ == "__main__":
    main()
