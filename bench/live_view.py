"""Live view under load: two daphne processes, PostgreSQL, Redis and S3 (SeaweedFS), 50 cameras
live at once sending 1 s segments of ~250 KB, 200 viewers polling playlists once a second.

Measured (after a warm-up; the measured time cut into --rounds equal windows, the figures given
per round and as the median over the rounds), for rtcc:
  listing      segment PUT sent -> the segment listed in a playlist read from the OTHER daphne
               (the camera PUTs, then reads the playlist at once, again every 5 ms until listed)
  playlist     response time of the 200 viewers' playlist reads under that load
  segment PUT  the camera's PUT alone (stored in S3 and in the database)
  viewer       camera-to-viewer latency: the end of a segment (when the camera sends it) -> its bytes
               fetched by a viewer that polls the playlist once a second, as a player does
Baselines in the same run, same pacing and bytes, same store:
  presigned S3 PUT     boto3 presigned put_object URLs, 50 "cameras" once a second each
  static playlist      a playlist object in the same bucket, 200 pollers once a second (presigned GET)
Goals (issue 15): listing p99 < 100 ms, playlist p99 < 50 ms, camera-to-viewer < 2 s.
Before the load, one process answers each kind of request alone, one at a time: its CPU per
playlist poll, segment GET and segment PUT, and the cores the load needs at those costs. Also
printed: how busy the machine's cores were and how many cores each part used (daphne, this
load generator, the S3 store, PostgreSQL, Redis): they all share this machine, and when no core
is left idle the figures measure the machine's run queue as much as rtcc.

Needs PostgreSQL and Redis running, as for the tests; starts its own SeaweedFS (S3, from .venv,
on free ports) and the two daphne processes. Run:
    .venv/bin/python bench/live_view.py [--cameras 50] [--viewers 200] [--seconds 30] [--rounds 3]
        [--s3-dir /dev/shm]
The store's data lies on this machine's disk by default, beside PostgreSQL's WAL: its 12 MB/s of
segments, written back by the kernel every few seconds, then delay PostgreSQL's commits (a
segment's row, a first look's audit event). An S3 in production runs elsewhere; `--s3-dir /dev/shm`
keeps the bench's store in memory to measure rtcc without that contention (both baselines use the
same store either way).
Environment (defaults): BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/rtcc_bench_live
  BENCH_REDIS_URL=redis://127.0.0.1:6379/6  BENCH_S3_BUCKET=rtcc-bench-live
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEGMENT_BYTES = 250 * 1000
ENV = {
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rtcc_bench_live"),
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
    "RTCC_S3_BUCKET": os.environ.get("BENCH_S3_BUCKET", "rtcc-bench-live"),
    "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "rtcc-bench-live-" + "k" * 40),
    "RTCC_EMBEDDED_BEAT": "false",
    "RTCC_LIVE_MAX_SECONDS": "3600",
}
os.environ.update(ENV)

from fleet_common import (  # noqa: E402
    MachineCpu,
    Server,
    client_loop,
    pids_named,
    provision,
    raise_open_files,
    run_client,
    s3_client,
    setup_django,
    start_own_s3,
)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:7.1f} ms   p99 {pct(values, 99) * 1000:7.1f} ms   (n={len(values)})"


def prepare(cameras: int, viewers: int) -> tuple[list[tuple[str, str]], list[str], str]:
    """Bench cameras (enrolled, in the database), viewer operators with tokens, a prober operator."""
    from apps.accounts.models import Role, User
    from apps.accounts.services import token_issue
    from apps.live.models import LiveSession

    LiveSession.objects.filter(device__serial__startswith="BENCH-").delete()
    devices = provision(cameras + 1)  # the last one: for the requests measured alone
    tokens = []
    for n in range(viewers + 1):
        user, _ = User.objects.get_or_create(
            username=f"bench-live-{n:04d}", defaults={"role": Role.OPERATOR, "full_name": f"Viewer {n}"}
        )
        tokens.append(token_issue(user=user)[0])
    from django.db import connection

    with connection.cursor() as cursor:  # planner statistics, as autovacuum keeps on a deployment
        cursor.execute("ANALYZE")
    return devices, tokens[:-1], tokens[-1]


class Stats:
    def __init__(self) -> None:
        self.recording = False
        self.listing: list[float] = []
        self.put: list[float] = []
        self.playlist: list[float] = []
        self.viewer: list[float] = []
        self.errors: dict[str, int] = {}
        self.requests = 0  # every request sent to rtcc, set-up included
        self.segment_end: dict[tuple[str, int], float] = {}
        self.measured_from = 0.0
        self.at: dict[str, list[float]] = {"listing": [], "put": [], "playlist": [], "viewer": []}
        self.timeline: dict[str, list[tuple[float, float]]] = {}

    def from_start(self, name: str, since: float, value: float) -> None:
        """A sample of `name` taken `since` seconds after the load started, warm-up included."""
        self.timeline.setdefault(name, []).append((since, value))

    def windows(self, name: str, width: float, until: float) -> list[list[float]]:
        """The samples of `name` in windows of `width` seconds from the start of the load."""
        out: list[list[float]] = [[] for _ in range(math.ceil(until / width))]
        for since, value in self.timeline.get(name, []):
            if 0 <= since < until:
                out[int(since // width)].append(value)
        return out

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def sample(self, name: str, value: float) -> None:
        getattr(self, name).append(value)
        self.at[name].append(time.monotonic())

    def rounds(self, name: str, count: int, seconds: float) -> list[list[float]]:
        """The samples of `name` in each of `count` equal windows of the measured time."""
        width = seconds / count
        out: list[list[float]] = [[] for _ in range(count)]
        for at, value in zip(self.at[name], getattr(self, name), strict=True):
            out[min(count - 1, max(0, int((at - self.measured_from) // width)))].append(value)
        return out


def names(text: str) -> list[tuple[int, str]]:
    """(sequence, url) of each media segment in a playlist."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("?", 1)[0].rsplit("/", 1)[1]
            if name.endswith(".m4s"):
                out.append((int(name[:-4]), line))
    return out


async def camera_socket(url: str, token: str, frames: asyncio.Queue):
    from apps.simulator.fleet import connect_device

    ws = await connect_device(url, token)
    await ws.send(json.dumps({"type": "status", "recording": True, "battery_pct": 90}))

    async def reader():
        async for message in ws:
            frame = json.loads(message)
            if frame.get("type") == "live":
                await frames.put(frame)

    return ws, asyncio.get_running_loop().create_task(reader())


async def open_live(http, url: str, device_id: str, camera_token: str, viewer_token: str, frames) -> tuple[str, str]:
    """An operator opens a live session of the device; its camera (whose socket feeds `frames`)
    hears of it and PUTs its init segment. Returns (session id, the camera's upload URL)."""
    async with http.post(
        f"{url}/api/v1/devices/{device_id}/live",
        json={"reason": "Benchmark"},
        headers={"Authorization": f"Bearer {viewer_token}"},
    ) as response:
        body = await response.json()
        if response.status != 201:
            raise SystemExit(f"live request refused: {response.status} {body}")
    upload = (await asyncio.wait_for(frames.get(), 10))["live"]["upload_url"]
    async with http.put(
        f"{upload}init.mp4", data=b"init" * 64, headers={"Authorization": f"Bearer {camera_token}"}
    ) as response:
        assert response.status == 201, await response.text()
    return body["id"], upload


ALONE = {"playlist": 300, "segment": 300, "put": 100}  # requests of each kind measured alone


async def measure_alone(server, device: tuple[str, str], viewer_token: str) -> dict[str, float]:
    """CPU seconds of one daphne process per request of each kind the load is made of, sent one at
    a time (no other load): a playlist poll, a segment GET through its signed link, a segment PUT.
    Times the load's request rates, they give the cores the load needs before any queueing."""
    import aiohttp

    device_id, token = device
    async with aiohttp.ClientSession() as http:
        frames: asyncio.Queue = asyncio.Queue()
        ws, reader = await camera_socket(server.url, token, frames)
        await asyncio.sleep(1.0)
        viewer = {"Authorization": f"Bearer {viewer_token}"}
        live_id, upload = await open_live(http, server.url, device_id, token, viewer_token, frames)
        camera = {"Authorization": f"Bearer {token}", "X-Segment-Duration": "1.000"}
        body = random.randbytes(SEGMENT_BYTES)
        sequence = iter(range(10**6))

        async def put() -> None:
            async with http.put(f"{upload}{next(sequence)}.m4s", data=body, headers=camera) as response:
                assert response.status == 201, await response.text()

        for _ in range(3):
            await put()
        playlist = f"{server.url}/api/v1/live/{live_id}/playlist.m3u8"

        async def poll() -> str:
            async with http.get(playlist, headers=viewer) as response:
                assert response.status == 200, await response.text()
                return await response.text()

        segment = names(await poll())[-1][1]

        async def fetch() -> None:
            async with http.get(segment) as response:
                assert response.status == 200
                await response.read()

        costs = {}
        for name, send in (("playlist", poll), ("segment", fetch), ("put", put)):
            for _ in range(20):  # caches warm, as under load
                await send()
            before = server.cpu_seconds()
            for _ in range(ALONE[name]):
                await send()
            costs[name] = (server.cpu_seconds() - before) / ALONE[name]
        async with http.post(f"{server.url}/api/v1/live/{live_id}/stop", headers=viewer) as response:
            await response.read()
        reader.cancel()
        await ws.close()
    return costs


async def run_rtcc(servers, devices, viewer_tokens, prober_token, seconds: float, warmup: float) -> Stats:
    import aiohttp

    stats = Stats()
    bodies = [random.randbytes(SEGMENT_BYTES) for _ in range(8)]
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    counting = aiohttp.TraceConfig()

    async def count(*_args) -> None:
        stats.requests += 1

    counting.on_request_start.append(count)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30), trace_configs=[counting]
    ) as http:
        # Cameras connect (half to each process) and report recording; an operator opens each session.
        sockets, sessions = [], []
        for index, (device_id, token) in enumerate(devices):
            frames: asyncio.Queue = asyncio.Queue()
            ws, reader = await camera_socket(servers[index % 2].url, token, frames)
            sockets.append((ws, reader))
            sessions.append({"device": device_id, "token": token, "frames": frames, "index": index})
        await asyncio.sleep(1.0)  # the status frames are in the shared live copy (Redis)
        for s in sessions:
            server = servers[s["index"] % 2]
            viewer_token = viewer_tokens[s["index"] % len(viewer_tokens)]
            s["id"], s["upload_url"] = await open_live(
                http, server.url, s["device"], s["token"], viewer_token, s["frames"]
            )
            upload_server = servers[0] if s["upload_url"].startswith(servers[0].url) else servers[1]
            s["other"] = servers[1] if upload_server is servers[0] else servers[0]

        start = time.monotonic() + 0.5
        stop_at = start + warmup + seconds

        async def camera(s) -> None:
            headers = {"Authorization": f"Bearer {s['token']}", "X-Segment-Duration": "1.000"}
            probe = {"Authorization": f"Bearer {prober_token}"}
            playlist = f"{s['other'].url}/api/v1/live/{s['id']}/playlist.m3u8"
            phase = random.random()
            sequence = 0
            while True:
                due = start + phase + sequence
                if due > stop_at:
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                sent = time.monotonic()
                stats.segment_end[(s["id"], sequence)] = sent
                try:
                    async with http.put(
                        f"{s['upload_url']}{sequence}.m4s", data=bodies[sequence % len(bodies)], headers=headers
                    ) as response:
                        await response.read()
                        ok = response.status == 201
                except aiohttp.ClientError:
                    ok = False
                stored = time.monotonic()
                if not ok:
                    stats.error("segment PUT")
                    sequence += 1
                    continue
                while True:  # read from the other process until it lists the segment
                    try:
                        async with http.get(playlist, headers=probe) as response:
                            text = await response.text()
                    except aiohttp.ClientError:
                        stats.error("probe")
                        text = ""
                    if any(seq == sequence for seq, _ in names(text)):
                        break
                    if time.monotonic() - sent > 5:
                        stats.error("never listed")
                        break
                    await asyncio.sleep(0.005)
                stats.from_start("put", sent - start, stored - sent)
                if stats.recording:
                    stats.sample("put", stored - sent)
                    stats.sample("listing", time.monotonic() - sent)
                sequence += 1

        async def viewer(index: int, token: str) -> None:
            s = sessions[index % len(sessions)]
            headers = {"Authorization": f"Bearer {token}"}
            playlist = f"{s['other'].url}/api/v1/live/{s['id']}/playlist.m3u8"
            seen = -1
            next_poll = start + random.random()
            while next_poll < stop_at:
                await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
                next_poll += 1.0
                t0 = time.monotonic()
                try:
                    async with http.get(playlist, headers=headers) as response:
                        text = await response.text()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                if not ok:
                    stats.error("playlist")
                    continue
                stats.from_start("playlist", t0 - start, time.monotonic() - t0)
                if stats.recording:
                    stats.sample("playlist", time.monotonic() - t0)
                for sequence, url in names(text):
                    if sequence <= seen:
                        continue
                    if seen == -1 and sequence != names(text)[-1][0]:
                        continue  # a player joining starts near the live edge
                    seen = sequence
                    try:
                        async with http.get(url) as response:  # the signed link, no header
                            await response.read()
                            ok = response.status == 200
                    except aiohttp.ClientError:
                        ok = False
                    if not ok:
                        stats.error("segment GET")
                        continue
                    end = stats.segment_end.get((s["id"], sequence))
                    if stats.recording and end is not None:
                        stats.sample("viewer", time.monotonic() - end)

        async def recorder() -> None:
            await asyncio.sleep(max(0.0, start + warmup - time.monotonic()))
            stats.measured_from = time.monotonic()
            stats.recording = True

        await asyncio.gather(
            recorder(),
            *(camera(s) for s in sessions),
            *(viewer(i, t) for i, t in enumerate(viewer_tokens)),
        )
        for ws, reader in sockets:
            reader.cancel()
            await ws.close()
    return stats


async def run_baseline(cameras: int, viewers: int, seconds: float, warmup: float) -> tuple[list, list, dict]:
    """Presigned S3 PUTs of the same bytes at the same pace, and a static playlist object polled by
    the same number of viewers, at the same time, against the same store."""
    import aiohttp

    s3 = s3_client(dict(os.environ))  # the bench's own SeaweedFS (main put it in the environment)
    bucket = ENV["RTCC_S3_BUCKET"]
    body = random.randbytes(SEGMENT_BYTES)
    static = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n" + "".join(
        f"#EXTINF:1.000,\nhttp://127.0.0.1/segments/{n}.m4s?token={'x' * 120}\n" for n in range(8)
    )
    s3.put_object(
        Bucket=bucket, Key="bench/static.m3u8", Body=static.encode(), ContentType="application/vnd.apple.mpegurl"
    )
    playlist_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "bench/static.m3u8"}, ExpiresIn=3600
    )
    put_urls = [
        [
            s3.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": f"bench/baseline/{c}/{n}.m4s"}, ExpiresIn=3600
            )
            for n in range(int(warmup + seconds) + 2)
        ]
        for c in range(cameras)
    ]
    puts: list[float] = []
    reads: list[float] = []
    errors: dict[str, int] = {}
    start = time.monotonic() + 0.5
    stop_at = start + warmup + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def camera(c: int) -> None:
            phase = random.random()
            n = 0
            while start + phase + n <= stop_at:
                await asyncio.sleep(max(0.0, start + phase + n - time.monotonic()))
                t0 = time.monotonic()
                async with http.put(put_urls[c][n], data=body) as response:
                    await response.read()
                    if response.status != 200:
                        errors["presigned PUT"] = errors.get("presigned PUT", 0) + 1
                if t0 - start >= warmup:
                    puts.append(time.monotonic() - t0)
                n += 1

        async def viewer() -> None:
            next_poll = start + random.random()
            while next_poll < stop_at:
                await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
                next_poll += 1.0
                t0 = time.monotonic()
                async with http.get(playlist_url) as response:
                    await response.read()
                    if response.status != 200:
                        errors["static playlist"] = errors.get("static playlist", 0) + 1
                if t0 - start >= warmup:
                    reads.append(time.monotonic() - t0)

        await asyncio.gather(*(camera(c) for c in range(cameras)), *(viewer() for _ in range(viewers)))
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="bench/"):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    return puts, reads, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="equal windows of the measured time")
    parser.add_argument(
        "--s3-dir",
        default=None,
        help="where the bench's SeaweedFS keeps its data (default: a temporary directory on this machine's"
        " disk, the one PostgreSQL writes its WAL to; /dev/shm keeps it in memory, off that disk, as an S3"
        " on another machine would be)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-bench-live-", dir=args.s3_dir))
    args.s3_where = "in memory" if str(workdir).startswith("/dev/shm") else f"under {workdir.parent}"
    weed, s3_env = start_own_s3(workdir, ENV["RTCC_S3_BUCKET"])
    os.environ.update(s3_env)  # before Django reads the environment; the daphne processes inherit it
    try:
        run(args)
    finally:
        weed.stop(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)


def run(args) -> None:
    raise_open_files()
    print(
        setup_django(),
        f"store={ENV['RTCC_S3_BUCKET']} at {os.environ['AWS_ENDPOINT_URL_S3']} (its data {args.s3_where})",
        flush=True,
    )

    devices, viewer_tokens, prober_token = prepare(args.cameras, args.viewers)
    alone_device, devices = devices[-1], devices[:-1]
    servers = [Server(), Server()]
    try:
        alone = run_client(measure_alone(servers[0], alone_device, prober_token))
        print(
            f"{args.cameras} cameras, {args.viewers} viewers, 2 daphne processes; {args.seconds:g} s measured;"
            f" load generator on {client_loop()}",
            flush=True,
        )
        machine = MachineCpu(
            {
                "daphne": lambda: [s.server.pid for s in servers],
                "load generator": lambda: [os.getpid()],
                "S3 store": pids_named("weed"),
                "PostgreSQL": pids_named("postgres"),
                "Redis": pids_named("redis-server"),
            }
        )
        machine.start()
        cpu_before, wall_before = [s.cpu_seconds() for s in servers], time.monotonic()
        client_before = time.process_time()
        stats = run_client(run_rtcc(servers, devices, viewer_tokens, prober_token, args.seconds, args.warmup))
        machine_cpu = machine.report()
        cpu = [s.cpu_seconds() - b for s, b in zip(servers, cpu_before, strict=True)]
        client_cpu = time.process_time() - client_before
        wall = time.monotonic() - wall_before
    finally:
        for server in servers:
            server.stop()
    puts, reads, base_errors = run_client(run_baseline(args.cameras, args.viewers, args.seconds, args.warmup))

    def ratio(a: float, b: list[float]) -> str:
        return f"{a / pct(b, 99):.2f}x" if b else "n/a"

    labels = {
        "listing": "listing (PUT -> listed on the other daphne)",
        "playlist": f"playlist response, {args.viewers} viewers at 1/s",
        "put": "segment PUT (250 KB, stored + recorded)",
        "viewer": "camera-to-viewer (segment end -> fetched)",
    }
    p99: dict[str, float] = {}
    print()
    print(f"rtcc, per round of {args.seconds / args.rounds:g} s (p50 / p99 ms)")
    for name, label in labels.items():
        rounds = stats.rounds(name, args.rounds, args.seconds)
        print(f"  {label:46s} " + "  ".join(f"{pct(r, 50) * 1000:6.0f} /{pct(r, 99) * 1000:6.0f}" for r in rounds))
        p99[name] = statistics.median(pct(r, 99) for r in rounds)
    width, until = 2.5, args.warmup + args.seconds / args.rounds
    print(f"rtcc, from the start of the load, warm-up ({args.warmup:g} s) included, per {width:g} s (p50 / p99 ms)")
    for name in ("put", "playlist"):
        windows = stats.windows(name, width, until)
        print(f"  {labels[name]:46s} " + "  ".join(f"{pct(w, 50) * 1000:.0f}/{pct(w, 99) * 1000:.0f}" for w in windows))
    print(f"rtcc, medians over {args.rounds} rounds")
    for name, label in labels.items():
        rounds = stats.rounds(name, args.rounds, args.seconds)
        p50 = statistics.median(pct(r, 50) for r in rounds)
        count = len(getattr(stats, name))
        print(f"  {label:46s} p50 {p50 * 1000:7.1f} ms   p99 {p99[name] * 1000:7.1f} ms   (n={count})")
    print(
        f"  daphne CPU: {' + '.join(f'{c:.1f}' for c in cpu)} s over {wall:.0f} s"
        f" for {stats.requests} requests: {sum(cpu) / max(1, stats.requests) * 1000:.2f} ms of CPU a request;"
        f" machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"  load generator CPU (this process): {client_cpu:.1f} s over {wall:.0f} s")
    print(f"  {machine_cpu}")
    # Per second at this load: every viewer polls once and fetches one segment; every camera PUTs
    # one segment, then the other process is polled until it lists it (once, when it is in time).
    need = args.viewers * (alone["playlist"] + alone["segment"]) + args.cameras * (alone["put"] + alone["playlist"])
    print(
        f"  each request alone (daphne CPU): playlist poll {alone['playlist'] * 1000:.2f} ms, segment GET"
        f" {alone['segment'] * 1000:.2f} ms, segment PUT {alone['put'] * 1000:.2f} ms;"
        f" at this load that is {need:.2f} cores of daphne before any queueing"
    )
    print("baseline (same run, same store, same pacing)")
    print(f"  presigned S3 PUT (250 KB)                    {ms(puts)}")
    print(f"  static playlist object from S3               {ms(reads)}")
    print("ratios (median p99 of rtcc / p99 of the baseline)")
    print(f"  listing / presigned PUT      {ratio(p99['listing'], puts)}")
    print(f"  segment PUT / presigned PUT  {ratio(p99['put'], puts)}")
    print(f"  playlist / static playlist   {ratio(p99['playlist'], reads)}")
    print("goals (median p99 of the rounds)")
    print(f"  listing p99 < 100 ms:        {'met' if p99['listing'] < 0.1 else 'NOT met'}")
    print(f"  playlist p99 < 50 ms:        {'met' if p99['playlist'] < 0.05 else 'NOT met'}")
    print(f"  camera-to-viewer p99 < 2 s:  {'met' if p99['viewer'] < 2 else 'NOT met'}")
    if stats.errors or base_errors:
        print("errors:", {**stats.errors, **{f"baseline {k}": v for k, v in base_errors.items()}})


if __name__ == "__main__":
    main()
