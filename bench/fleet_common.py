"""Shared by the fleet benchmarks: Django set up from the environment, N enrolled devices in the
database, one daphne process to measure, and simulated device sockets against it.

Environment (as the server reads it): DATABASE_URL and REDIS_URL for the production shape
(PostgreSQL + Redis channel layer and presence), unset for the embedded default (SQLite and
in-process layer, in a temporary RTCC_DATA_DIR). The devices are inserted straight into the
database (a benchmark fixture, not audited): registering thousands over the API would measure
the audit chain, not presence.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import launch  # noqa: E402

BENCH_PREFIX = "BENCH"


def s3_client(env: dict[str, str]):
    """A boto3 S3 client for the store `env` (start_own_s3's) describes."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL_S3"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def start_own_s3(workdir: Path, bucket: str) -> tuple[launch.Process, dict[str, str]]:
    """The bench's own SeaweedFS (`weed mini` from .venv), S3 and every other port a free one (the
    tests or another SeaweedFS may run beside it), ready once `bucket` exists. Returns the process
    and the environment a client or a server needs to reach it."""
    from infra.dev import S3_KEY, S3_SECRET

    port = launch.free_port()
    weed = launch.start_seaweedfs(
        weed=ROOT / ".venv" / "bin" / "weed",
        datadir=workdir / "seaweedfs",
        s3_port=port,
        log=workdir / "weed.log",
        ports=launch.seaweedfs_ports(),
    )
    env = {
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    s3 = s3_client(env)
    for _ in range(90):  # the S3 port opens before the filer behind it is ready
        try:
            s3.head_bucket(Bucket=bucket)
            return weed, env
        except Exception:
            try:
                s3.create_bucket(Bucket=bucket)
                return weed, env
            except Exception:
                time.sleep(1)
    weed.stop()
    raise SystemExit(f"SeaweedFS did not get ready:\n{weed.log_tail()}")


def client_loop() -> str:
    """The load generator's event loop: uvloop when it is installed (`pip install .[bench]`) and
    RTCC_BENCH_LOOP does not say `asyncio`."""
    if os.environ.get("RTCC_BENCH_LOOP") == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_client(main):
    """Runs the load generator's coroutine on client_loop(): the client shares this machine's cores
    with what it measures, so the less CPU it takes, the less its own cost shows in the figures."""
    if client_loop() == "asyncio":
        return asyncio.run(main)
    import uvloop

    return uvloop.run(main)


def raise_open_files() -> int:
    """Sockets are files: lift the soft limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def setup_django() -> str:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    """Configures Django like the server will be; returns a one-line description of the setup."""
    if not os.environ.get("DATABASE_URL") and not os.environ.get("RTCC_DATA_DIR"):
        os.environ["RTCC_DATA_DIR"] = tempfile.mkdtemp(prefix="rtcc-bench-")
    os.environ.setdefault("DJANGO_SECRET_KEY", "rtcc-bench-" + "k" * 40)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc.settings")
    os.environ["RTCC_EMBEDDED_BEAT"] = "false"
    _ensure_postgres_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = "redis" if settings.ENV.redis_url else "in-memory"
    return f"database={database} channel layer/presence={layer}"


def _ensure_postgres_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def provision(count: int, kind: str = "bodycam") -> list[tuple[str, str]]:
    """`count` enrolled devices (previous bench devices removed): [(device_id, token)]."""
    from django.db import transaction
    from django.utils import timezone

    from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token
    from apps.devices.models import Device

    Device.objects.filter(serial__startswith=f"{BENCH_PREFIX}-").delete()
    now = timezone.now()
    out, rows = [], []
    for n in range(count):
        token = new_token(DEVICE_PREFIX)
        device = Device(
            kind=kind,
            serial=f"{BENCH_PREFIX}-{n:06d}",
            label=f"Bench {n}",
            token_hash=hash_token(token),
            enrolled_at=now,
        )
        rows.append(device)
        out.append((str(device.pk), token))
    with transaction.atomic():
        Device.objects.bulk_create(rows, batch_size=1000)
    return out


def it_token() -> str:
    from apps.accounts.models import Role, User
    from apps.accounts.services import token_issue

    user, _ = User.objects.get_or_create(username="bench-it", defaults={"role": Role.IT})
    return token_issue(user=user)[0]


def device_writes() -> int | None:
    """Rows of devices_device updated so far (PostgreSQL statistics), None elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'devices_device'")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


class Server:
    """One `daphne rtcc.asgi:application` process, as production runs it."""

    def __init__(self, env: dict | None = None) -> None:
        log = tempfile.NamedTemporaryFile(prefix="rtcc-bench-daphne-", suffix=".log", delete=False)
        log.close()
        self.server = launch.start_daphne(
            env={**os.environ, **(env or {})},
            log=Path(log.name),
            app=os.environ.get("RTCC_BENCH_ASGI", "rtcc.asgi:application"),  # another app: for experiments
        )
        self.process = self.server.process
        self.port = self.server.port
        self.url = self.server.url

    def rss(self) -> int:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.server.stop(timeout=20)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


class MachineCpu:
    """Where the machine's CPU went between start() and the report: every core's busy share
    (/proc/stat: not idle, not waiting for I/O) and the CPU seconds of each named group of
    processes (the benchmark's own services and load generator share the cores with rtcc, so a
    run with no core idle measures the machine's queue, not rtcc's)."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.before: dict[str, float] = {}
        self.stat: tuple[float, float] = (0.0, 0.0)
        self.wall = 0.0

    @staticmethod
    def _busy_total() -> tuple[float, float]:
        import psutil

        t = psutil.cpu_times()
        idle = t.idle + getattr(t, "iowait", 0.0)
        total = sum(t)
        return total - idle, total

    def _group_seconds(self) -> dict[str, float]:
        import psutil

        out: dict[str, float] = {}
        for name, pids in self.groups.items():
            total = 0.0
            for pid in pids():
                with contextlib.suppress(psutil.Error):  # gone since it was listed
                    total += cpu_seconds(pid)
            out[name] = total
        return out

    def start(self) -> None:
        self.before = self._group_seconds()
        self.stat = self._busy_total()
        self.wall = time.monotonic()

    def report(self) -> str:
        after = self._group_seconds()
        busy, total = self._busy_total()
        wall = time.monotonic() - self.wall
        cores = os.cpu_count() or 1
        share = (busy - self.stat[0]) / max(1e-9, total - self.stat[1]) * 100
        parts = ", ".join(f"{name} {(after[name] - self.before.get(name, 0.0)) / wall:.2f}" for name in self.groups)
        return f"machine CPU busy {share:.0f}% of {cores} cores over {wall:.0f} s; cores used: {parts}"


def pids_named(*names: str) -> Callable[[], list[int]]:
    """The processes whose executable is one of `names` (postgres, redis-server, weed)."""

    def find() -> list[int]:
        import psutil

        return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in names]

    return find


async def connect_all(url: str, tokens: list[str], *, concurrency: int = 25, progress=None) -> list:
    """Opens one device socket per token, `concurrency` handshakes at a time."""
    from websockets.exceptions import InvalidHandshake

    from apps.simulator.fleet import connect_device

    gate = asyncio.Semaphore(concurrency)
    sockets: list = [None] * len(tokens)
    done = 0

    async def one(index: int, token: str) -> None:
        nonlocal done
        async with gate:
            for attempt in range(8):  # a refused handshake in a connect storm is retried, as firmware would
                try:
                    # no client keepalive pings: the server's own pings keep the sockets honest
                    sockets[index] = await connect_device(url, token, open_timeout=60, ping_interval=None)
                    break
                except (OSError, TimeoutError, InvalidHandshake):
                    await asyncio.sleep(0.5 * (attempt + 1))
            done += 1
            if progress and done % 1000 == 0:
                progress(done)

    await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
    return sockets


async def api_get_all(url: str, token: str, path: str, params: dict | None = None) -> list[dict]:
    """Every row of a paginated list, as the API shows it."""
    import httpx

    rows: list[dict] = []
    async with httpx.AsyncClient(
        base_url=url, timeout=60, trust_env=False, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        page = 1
        while True:
            body = (await http.get(path, params={**(params or {}), "page_size": 500, "page": page})).json()
            rows.extend(body["results"])
            if not body["next"]:
                return rows
            page += 1


def ratio(figure: float, goal: float, *, lower_is_better: bool = False) -> str:
    value = goal / figure if lower_is_better else figure / goal
    verdict = "meets" if value >= 1 else "MISSES"
    return f"{value:.2f}x the goal ({verdict} it)"
