"""Remote recording latency: operator POST -> device socket, and -> `succeeded`, against the bare channel layer.

    .venv/bin/python bench/command_latency.py [--devices 2000] [--rounds 5] [--commands 1000] [--concurrency 1]

Environment (loopback services; nothing else is touched):
    DATABASE_URL   PostgreSQL server to use; the bench works in its OWN database on that server
                   (default postgres://postgres@127.0.0.1:5432/rtcc_bench_command; created and
                   migrated when missing; its commands and BENCH- devices are replaced each run).
    REDIS_URL      the channel layer both daphne processes share (default redis://127.0.0.1:6379/12).

What it does: starts two `daphne` processes (rtcc plus a bench-only bare consumer, see
command_latency_asgi.py), creates N devices with tokens directly in the bench database,
connects half of them to each process (each acks and reports success at once, acting once per
command id), and a console socket (operator token) to the first. Then, interleaved:
  * baseline: `group_send` from this process to a bare websocket consumer on a daphne
    process; latency = group_send start -> frame received by the client;
  * rtcc: POST /api/v1/devices/{id}/commands to the process that does NOT hold the device's
    socket; latency = POST start -> command frame received by the device, and -> the console's
    `command.update` showing `succeeded`.
  * floor: an authenticated GET /api/v1/me (HTTP, Django, DRF, token auth, nothing else).
Each round prints p50/p99 of each; the summary gives the MEDIAN over rounds of each figure and of
the ratio p99(API->device) / p99(bare layer) (the goal is <= 3), with the load average before and
after (other work on the machine moves the figures). A round is 1,000 commands: the p99 of 300
was the third-slowest sample, and one collector pause in a daphne process moved a round's ratio by
a whole point. The client runs on uvloop when it is installed, with its own sockets frozen out of
its collector (it measures; its pauses are not rtcc's). When the PostgreSQL server runs with
autovacuum off, the bench vacuums its own database before each round, outside the measured time,
as autovacuum would on a deployment.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet_common import client_loop, cpu_seconds, run_client  # noqa: E402

from infra import launch  # noqa: E402

BENCH_DB = "rtcc_bench_command"
SECRET = "rtcc-bench-command-" + "x" * 40


def configure_env() -> tuple[str, str]:
    raw = os.environ.get("DATABASE_URL") or f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
    parsed = urlparse(raw)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("bench/command_latency.py needs DATABASE_URL=postgres://... (PostgreSQL)")
    database_url = urlunparse(parsed._replace(path=f"/{BENCH_DB}"))
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/12"
    data_dir = Path(tempfile.mkdtemp(prefix="rtcc-bench-command-"))
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SECRET_KEY": SECRET,
            "RTCC_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "rtcc.settings",
        }
    )
    return database_url, redis_url


def ensure_database(database_url: str) -> None:
    import psycopg

    parsed = urlparse(database_url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def vacuum_if_no_autovacuum() -> bool:
    """VACUUM (ANALYZE) of the bench's database when its server runs with autovacuum off (as this
    machine's did): what autovacuum does on a deployment's database between the rounds, outside
    the measured time. Without it every command's three updates left dead rows and index entries
    that no one removed, PostgreSQL's CPU per command doubled within six rounds, and each round
    was slower than the one before. True when it vacuumed."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            if cursor.fetchone()[0] == "on":
                return False
            cursor.execute("VACUUM (ANALYZE)")
        return True
    finally:
        connection.close()


def prepare_data(n_devices: int) -> tuple[str, list[tuple[str, str]]]:
    """Migrates, replaces the bench's devices and commands; returns (operator token, [(device id, token)])."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.accounts.models import User
    from apps.accounts.services import token_issue
    from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token
    from apps.control.models import Command
    from apps.devices.models import Device

    Command.objects.all().delete()
    Device.objects.filter(serial__startswith="BENCH-").delete()
    operator, _ = User.objects.get_or_create(
        username="bench-operator", defaults={"role": "operator", "full_name": "Bench Operator"}
    )
    token, _ = token_issue(user=operator)
    devices, pairs = [], []
    for n in range(n_devices):
        device_token = new_token(DEVICE_PREFIX)
        device = Device(kind="bodycam", serial=f"BENCH-{n:05d}", token_hash=hash_token(device_token))
        devices.append(device)
        pairs.append((str(device.id), device_token))
    Device.objects.bulk_create(devices, batch_size=500)
    from django.db import connection, connections

    # What autovacuum does on a deployment's database, done now: planner statistics for the
    # tables just filled. Without them (autovacuum off, or not yet run) PostgreSQL found the
    # device for each command by scanning every unrevoked device, 0.5 ms a command.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    connections.close_all()
    return token, pairs


class Daphne:
    """One web process on the bench's ASGI app (started now, waited for with wait())."""

    def __init__(self, log_dir: Path) -> None:
        self.port = launch.free_port()
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'bench'}{os.pathsep}{ROOT}", "RTCC_EMBEDDED_BEAT": "false"}
        cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", self.port, "command_latency_asgi:application"]
        self.server = launch.Process("daphne", cmd, env=env, log=log_dir / f"daphne-{self.port}.log", port=self.port)
        self.process = self.server.process

    def wait(self, timeout: float = 60) -> None:
        try:
            self.server.wait_port(timeout)
        except RuntimeError as exc:
            sys.exit(str(exc))

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.server.stop(timeout=10)


class Probe:
    """Clocks shared by every socket of this process (one event loop, one perf_counter)."""

    def __init__(self) -> None:
        self.device_at: dict[str, float] = {}
        self.succeeded_at: dict[str, float] = {}
        self.ping_at: dict[str, float] = {}
        self.waiters: dict[tuple[str, str], asyncio.Future] = {}
        self.acted: set[str] = set()

    def mark(self, kind: str, key: str, table: dict) -> None:
        table.setdefault(key, time.perf_counter())
        future = self.waiters.pop((kind, key), None)
        if future and not future.done():
            future.set_result(None)

    async def wait(self, kind: str, key: str, table: dict, timeout: float = 10) -> bool:
        if key in table:
            return True
        future = asyncio.get_running_loop().create_future()
        self.waiters[(kind, key)] = future
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            self.waiters.pop((kind, key), None)
            return False


async def open_socket(url: str, headers: dict, attempts: int = 30):
    """Connects like firmware does: on a refused or timed-out handshake, back off and try again."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake

    delay = 0.2
    for attempt in range(attempts):
        try:
            return await connect(url, additional_headers=headers, open_timeout=30, ping_interval=None, max_queue=None)
        except (OSError, TimeoutError, InvalidHandshake):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(5.0, delay * 2)
    raise AssertionError("unreachable")


async def run_device(url: str, token: str, probe: Probe, ready: asyncio.Event, connected: list) -> None:
    ws = await open_socket(url, {"Authorization": f"Bearer {token}"})
    async with ws:
        connected.append(1)
        ready.set()
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") != "command":
                continue
            command_id = frame["command"]["id"]
            probe.mark("device", command_id, probe.device_at)
            await ws.send(json.dumps({"type": "ack", "command_id": command_id}))
            if command_id not in probe.acted:  # the device acts once per command id
                probe.acted.add(command_id)
                await ws.send(json.dumps({"type": "result", "command_id": command_id, "ok": True}))


async def run_console(url: str, token: str, probe: Probe, ready: asyncio.Event) -> None:
    ws = await open_socket(url, {"Authorization": f"Bearer {token}"})
    async with ws:
        ready.set()
        async for raw in ws:
            event = json.loads(raw)
            if event.get("type") == "command.update" and event["command"]["state"] == "succeeded":
                probe.mark("succeeded", event["command"]["id"], probe.succeeded_at)


async def run_bare(url: str, probe: Probe, ready: asyncio.Event) -> None:
    ws = await open_socket(url, {})
    async with ws:
        ready.set()
        async for raw in ws:
            probe.mark("ping", raw, probe.ping_at)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] * 1000


async def bench(args, operator_token: str, devices: list[tuple[str, str]], servers: list[Daphne]) -> None:
    import aiohttp
    from channels.layers import get_channel_layer

    probe = Probe()
    tasks: list[asyncio.Task] = []
    home: dict[str, int] = {}
    connected: list[int] = []
    semaphore = asyncio.Semaphore(args.connect_concurrency)

    async def start_device(index: int, device_id: str, token: str) -> None:
        server = index % 2
        home[device_id] = server
        ready = asyncio.Event()
        async with semaphore:
            task = asyncio.create_task(
                run_device(f"ws://127.0.0.1:{servers[server].port}/ws/device/", token, probe, ready, connected)
            )
            tasks.append(task)
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiter}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
            error = task.exception() if task.done() else None
            if error:
                raise error

    started = time.perf_counter()
    await asyncio.gather(*(start_device(i, d, t) for i, (d, t) in enumerate(devices)))
    print(
        f"connected {len(connected)} devices across 2 daphne processes in {time.perf_counter() - started:.1f}s",
        flush=True,
    )

    console_ready = asyncio.Event()
    tasks.append(
        asyncio.create_task(
            run_console(f"ws://127.0.0.1:{servers[0].port}/ws/console/", operator_token, probe, console_ready)
        )
    )
    bare_groups = []
    for server in (0, 1):
        for n in range(args.bare_sockets):
            group = f"bench.{server}.{n}.{uuid.uuid4().hex[:8]}"
            ready = asyncio.Event()
            tasks.append(
                asyncio.create_task(
                    run_bare(f"ws://127.0.0.1:{servers[server].port}/ws/bench/?group={group}", probe, ready)
                )
            )
            await asyncio.wait_for(ready.wait(), 30)
            bare_groups.append(group)
    await asyncio.wait_for(console_ready.wait(), 30)
    await asyncio.sleep(2)  # let the connect storm's presence writes settle
    # The observer's own 2,000 sockets out of its collector's sight: a full collection of them
    # stalled this process, and every figure measured across the stall, tens of ms at a time.
    gc.collect()
    gc.freeze()
    if args.idle_seconds > 0:  # what the open sockets cost with nothing happening
        cpu_before = sum(server.cpu_seconds() for server in servers)
        await asyncio.sleep(args.idle_seconds)
        idle = (sum(server.cpu_seconds() for server in servers) - cpu_before) / args.idle_seconds
        print(f"at rest: both daphne processes use {idle * 100:.1f}% of a CPU, {len(connected)} device sockets open")

    layer = get_channel_layer()
    bare: list[float] = []
    to_device: list[float] = []
    to_succeeded: list[float] = []
    post_times: list[float] = []
    floor: list[float] = []
    lost = {"bare": 0, "device": 0, "succeeded": 0, "http": 0}
    rounds: list[dict[str, float]] = []
    rng = random.Random(7)
    device_ids = [d for d, _ in devices]

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {operator_token}"}) as http:

        async def one_ping() -> None:
            key = uuid.uuid4().hex
            started = time.perf_counter()
            await layer.group_send(rng.choice(bare_groups), {"type": "bench.ping", "text": key})
            if await probe.wait("ping", key, probe.ping_at):
                bare.append(probe.ping_at[key] - started)
            else:
                lost["bare"] += 1

        async def one_floor() -> None:
            # What any authenticated API call costs here (HTTP, Django, DRF, token auth): the floor.
            started = time.perf_counter()
            async with http.get(f"http://127.0.0.1:{rng.choice(servers).port}/api/v1/me") as response:
                await response.read()
            floor.append(time.perf_counter() - started)

        async def one_command(device_id: str) -> None:
            server = servers[1 - home[device_id]]  # the process that does NOT hold the socket
            started = time.perf_counter()
            async with http.post(
                f"http://127.0.0.1:{server.port}/api/v1/devices/{device_id}/commands",
                json={"action": rng.choice(["start_recording", "stop_recording"]), "reason": "Latency benchmark"},
            ) as response:
                body = await response.json()
            post_times.append(time.perf_counter() - started)
            if response.status != 202:
                lost["http"] += 1
                return
            command_id = body["id"]
            if await probe.wait("device", command_id, probe.device_at):
                to_device.append(probe.device_at[command_id] - started)
            else:
                lost["device"] += 1
            if await probe.wait("succeeded", command_id, probe.succeeded_at):
                to_succeeded.append(probe.succeeded_at[command_id] - started)
            else:
                lost["succeeded"] += 1

        # Warm-up (connections, code paths), not counted.
        for _ in range(20):
            await one_ping()
            await one_floor()
            await one_command(rng.choice(device_ids))
        for samples in (bare, to_device, to_succeeded, post_times, floor):
            samples.clear()

        for number in range(1, args.rounds + 1):
            if await asyncio.to_thread(vacuum_if_no_autovacuum) and number == 1:
                print("autovacuum is off on this PostgreSQL server: the bench vacuums its database before each round")
            started = time.perf_counter()
            cpu_before = sum(server.cpu_seconds() for server in servers)
            targets = [rng.choice(device_ids) for _ in range(args.commands)]
            if args.concurrency <= 1:
                for device_id in targets:  # interleaved, so all see the same conditions
                    await one_ping()
                    await one_floor()
                    await one_command(device_id)
            else:
                queue: asyncio.Queue = asyncio.Queue()
                for device_id in targets:
                    queue.put_nowait(device_id)

                async def worker(queue: asyncio.Queue = queue) -> None:
                    while not queue.empty():
                        device_id = queue.get_nowait()
                        await one_ping()
                        await one_floor()
                        await one_command(device_id)

                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            elapsed = time.perf_counter() - started
            cpu_used = sum(server.cpu_seconds() for server in servers) - cpu_before
            series = {"bare": bare, "device": to_device, "succeeded": to_succeeded, "post": post_times, "floor": floor}
            figures = {f"{name} {p}": pct(values, p) for name, values in series.items() for p in (50, 99)}
            figures["ratio p99"] = figures["device 99"] / figures["bare 99"]
            figures["ratio p50"] = figures["device 50"] / figures["bare 50"]
            figures["cpu"] = cpu_used / args.commands * 1000
            rounds.append(figures)
            print(
                f"round {number}: {args.commands} commands in {elapsed:.1f}s; "
                + ", ".join(
                    f"{label} {figures[name + ' 50']:.2f}/{figures[name + ' 99']:.2f}" for name, label in LABELS
                )
                + f" ms (p50/p99); ratio p99 {figures['ratio p99']:.2f}; daphne CPU {figures['cpu']:.2f} ms"
                + f" per command; load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            for samples in (bare, to_device, to_succeeded, post_times, floor):
                samples.clear()

    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    print(
        f"\nmedians over {args.rounds} rounds of {args.commands} commands (+ as many bare pings and GET /me), "
        f"concurrency {args.concurrency}, {len(devices)} devices on 2 daphne processes + Redis layer + PostgreSQL"
    )
    print(f"{'':36} {'p50 ms':>8} {'p99 ms':>8}")
    for name, label in LABELS:
        print(f"{label:36} {median(name + ' 50'):8.2f} {median(name + ' 99'):8.2f}")
    ratio = median("ratio p99")
    verdict = "met" if ratio <= 3 else "NOT met"
    print(f"\nratio p99(API->device) / p99(bare layer), median of rounds = {ratio:.2f}  (goal <= 3.0: {verdict})")
    print(f"ratio p50(API->device) / p50(bare layer), median of rounds = {median('ratio p50'):.2f}")
    print(
        f"CPU of both daphne processes per command (with its ping and GET /me, and every socket's upkeep),"
        f" median of rounds = {median('cpu'):.2f} ms"
    )
    print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    if any(lost.values()):
        print(f"lost or timed out: {lost}")


LABELS = [
    ("bare", "bare channel layer (group_send->ws)"),
    ("device", "API POST -> device receives"),
    ("succeeded", "API POST -> command succeeded"),
    ("post", "API POST response time"),
    ("floor", "floor: GET /api/v1/me response"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commands", type=int, default=1000, help="commands (and pings, and GET /me) per round")
    parser.add_argument("--concurrency", type=int, default=1, help="operators posting at once")
    parser.add_argument("--bare-sockets", type=int, default=10, help="bare baseline sockets per daphne process")
    parser.add_argument("--connect-concurrency", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=10, help="CPU measured at rest before the rounds")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.devices * 2 + 500:
        sys.exit(f"open file limit {hard} is too low for {args.devices} devices")

    database_url, redis_url = configure_env()
    sys.path.insert(0, str(ROOT))
    ensure_database(database_url)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"database {urlparse(database_url).path[1:]} on {urlparse(database_url).hostname}, layer {redis_url}")
    operator_token, devices = prepare_data(args.devices)
    log_dir = Path(os.environ["RTCC_DATA_DIR"])
    servers = [Daphne(log_dir), Daphne(log_dir)]
    try:
        for server in servers:
            server.wait()
        print(f"client event loop: {client_loop()}")
        run_client(bench(args, operator_token, devices, servers))
    finally:
        for server in servers:
            server.stop()
        if os.environ.get("RTCC_BENCH_KEEP_LOGS"):
            print(f"daphne logs kept in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
