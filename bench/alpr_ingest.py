"""Plate-read ingest: reads stored per second and POST -> `hit.new` on a console socket, against COPY.

    .venv/bin/python bench/alpr_ingest.py [--entries 1000000] [--reads 100000] [--readers 8] [--concurrency 4]

Environment (loopback services; nothing else is touched):
    DATABASE_URL   PostgreSQL server; the bench works in its OWN database there (default
                   postgres://postgres@127.0.0.1:5432/rtcc_bench_alpr; created and migrated when
                   missing; its reads, hits and hotlist are replaced each run).
    REDIS_URL      the channel layer (default redis://127.0.0.1:6379/5; nothing is flushed).

What it does: one `daphne rtcc.asgi:application` process on PostgreSQL with the Redis layer; a
hotlist whose entries are written with COPY (first --small-entries, then up to --entries);
--readers enrolled plate readers; a console socket with an operator's token. Readers POST
batches of 100 reads (--hit-share on the list, a quarter of those as look-alike misreads) with
--concurrency requests in flight. Measured:
  * reads stored per second (accepted reads / wall time of the run), at 1,000,000 entries;
  * for every hit: POST start -> the `hit.new` frame carrying that hit id on the console socket
    (p50, p99);
  * the daphne process's RSS after the same run at --small-entries and at --entries;
  * baseline, same run: the same number of rows, with the same columns, written to the same
    (partitioned) alpr_read table with psycopg's COPY (the storage floor: no HTTP, no JSON, no
    matching, no hits). Ratio = rtcc reads/s / COPY reads/s.
Goals (issue 14): >= 5,000 reads/s, >= 0.5x COPY, hit.new p99 < 500 ms, memory flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import launch  # noqa: E402
from infra.launch import free_port  # noqa: E402

BENCH_DB = "rtcc_bench_alpr"
SECRET = "bench-alpr-" + "x" * 40
LOOK = {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G"}


def configure_env() -> str:
    raw = os.environ.get("DATABASE_URL") or f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
    parsed = urlparse(raw)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("bench/alpr_ingest.py needs DATABASE_URL=postgres://... (PostgreSQL)")
    database_url = urlunparse(parsed._replace(path=f"/{BENCH_DB}"))
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5",
            "DJANGO_SECRET_KEY": SECRET,
            "RTCC_DATA_DIR": tempfile.mkdtemp(prefix="rtcc-bench-alpr-"),
            "DJANGO_SETTINGS_MODULE": "rtcc.settings",
        }
    )
    import psycopg

    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return database_url


def entry_plate(i: int) -> str:
    # Q folds to 0: a random read plate (starting with X) never equals an entry, folded or not
    return f"Q{i:06d}"


def prepare(readers: int) -> tuple[str, list[str], str]:
    """Migrates, empties the bench's reads, hits and lists; returns (operator token, reader tokens, hotlist id)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection, connections

    from apps.accounts.models import User
    from apps.accounts.services import token_issue
    from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token
    from apps.alpr.models import Hotlist
    from apps.devices.models import Device

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE alpr_hit, alpr_read, alpr_entry, alpr_hotlist, alpr_readcount CASCADE")
    Device.objects.filter(serial__startswith="BENCH-ALPR-").delete()
    operator, _ = User.objects.get_or_create(username="bench-operator", defaults={"role": "operator"})
    token, _ = token_issue(user=operator)
    tokens = []
    for n in range(readers):
        device_token = new_token(DEVICE_PREFIX)
        Device.objects.create(
            kind="alpr", serial=f"BENCH-ALPR-{n:03d}", token_hash=hash_token(device_token), lat=40.71, lon=-74.0
        )
        tokens.append(device_token)
    hotlist = Hotlist.objects.create(name="Bench NCIC", source="ncic", priority=90, created_by=operator)
    connections.close_all()
    return token, tokens, str(hotlist.pk)


def copy_entries(database_url: str, hotlist_id: str, start: int, stop: int) -> float:
    import psycopg

    began = time.perf_counter()
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY alpr_entry (id, hotlist_id, plate, plate_normalized, plate_folded, plate_state, reason, "
            "case_number, note, vehicle, created_at) FROM STDIN"
        ) as copy:
            for i in range(start, stop):
                plate = entry_plate(i)
                folded = "0" + plate[1:]
                row = (uuid.uuid4(), hotlist_id, plate, plate, folded, "", "Stolen vehicle", "", "", "{}", now)
                copy.write_row(row)
        cur.execute("ANALYZE alpr_entry")
    return time.perf_counter() - began


def make_batches(total: int, hot_share: float, entries: int, seed: int) -> list[list[dict]]:
    rng = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    batches, batch = [], []
    letters = "ACEFHJKMNPRTUVWXY"
    for n in range(total):
        if rng.random() < hot_share:
            plate = entry_plate(rng.randrange(entries))
            if rng.random() < 0.25:  # a look-alike misread: a similar hit
                i = rng.randrange(1, len(plate))
                plate = plate[:i] + LOOK.get(plate[i], plate[i]) + plate[i + 1 :]
        else:
            plate = "X" + "".join(rng.choice(letters) for _ in range(2)) + f"{rng.randrange(10000):04d}"
        batch.append(
            {
                "read_id": f"b{seed}-{n}",
                "plate": plate,
                "confidence": 0.9,
                "read_at": now,
                "location": {"lat": 40.7 + rng.random() / 50, "lon": -74.0 + rng.random() / 50},
            }
        )
        if len(batch) == 100:
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    return batches


class Daphne:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "RTCC_EMBEDDED_BEAT": "false"}
        self.log = open(log_dir / f"daphne-{self.port}.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "rtcc.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.flush()
                sys.exit(f"daphne exited: {Path(self.log.name).read_text()[-3000:]}")
            if launch.answers(self.port):
                return
            time.sleep(0.1)
        sys.exit(f"daphne did not start, see {self.log.name}")

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


async def run_phase(base: str, operator_token: str, reader_tokens: list[str], batches, concurrency: int) -> dict:
    import httpx
    from websockets.asyncio.client import connect

    seen: dict[str, float] = {}
    started_of: dict[str, float] = {}
    ws = await connect(
        base.replace("http", "ws") + "/ws/console/",
        additional_headers={"Authorization": f"Bearer {operator_token}"},
        max_queue=None,
        ping_interval=None,
    )

    async def listen() -> None:
        async for raw in ws:
            event = json.loads(raw)
            if event.get("type") == "hit.new":
                seen.setdefault(event["hit"]["id"], time.perf_counter())

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    queue: asyncio.Queue = asyncio.Queue()
    for i, batch in enumerate(batches):
        queue.put_nowait((reader_tokens[i % len(reader_tokens)], json.dumps({"reads": batch})))
    totals = {"accepted": 0, "duplicates": 0, "hits": 0, "errors": 0}
    async with httpx.AsyncClient(base_url=base, timeout=60, trust_env=False) as http:

        async def worker() -> None:
            while not queue.empty():
                token, body = queue.get_nowait()
                t0 = time.perf_counter()
                response = await http.post(
                    "/api/v1/plate-reads",
                    content=body,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
                if response.status_code != 200:
                    totals["errors"] += 1
                    print("error", response.status_code, response.text[:200], file=sys.stderr)
                    continue
                out = response.json()
                totals["accepted"] += out["accepted"]
                totals["duplicates"] += out["duplicates"]
                totals["hits"] += len(out["hits"])
                for hit_id in out["hits"]:
                    started_of[hit_id] = t0

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    deadline = time.perf_counter() + 10
    while len(seen.keys() & started_of.keys()) < len(started_of) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    listener.cancel()
    await ws.close()
    latencies = [seen[h] - started_of[h] for h in started_of if h in seen]
    return {
        **totals,
        "seconds": elapsed,
        "reads_per_s": totals["accepted"] / elapsed if elapsed else 0.0,
        "hit_latencies": latencies,
        "hits_missing_on_console": len(started_of) - len(latencies),
    }


def copy_baseline(database_url: str, batches, reader_id: str) -> float:
    """The same rows straight into alpr_read with COPY: the storage floor."""
    import psycopg

    from apps.core.plates import fold, normalize

    rows = []
    received = datetime.now(UTC)
    for batch in batches:
        for read in batch:
            plate = normalize(read["plate"])
            rows.append(
                (
                    uuid.uuid4(),
                    reader_id,
                    "copy-" + read["read_id"],
                    read["plate"],
                    plate,
                    fold(plate),
                    "",
                    read["confidence"],
                    read["read_at"],
                    received,
                    read["location"]["lat"],
                    read["location"]["lon"],
                    "[]",
                    "{}",
                    "",
                    "",
                    False,
                )
            )
    began = time.perf_counter()
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        for start in range(0, len(rows), 100):  # one COPY per batch of 100, one commit each, like a POST
            with cur.copy(
                "COPY alpr_read (id, reader_id, read_id, plate, plate_normalized, plate_folded, plate_state, "
                "confidence, read_at, received_at, lat, lon, candidates, vehicle, image_key, image_sha256, has_hit) "
                "FROM STDIN"
            ) as copy:
                for row in rows[start : start + 100]:
                    copy.write_row(row)
            conn.commit()
    return time.perf_counter() - began


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--small-entries", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=100_000, help="reads per measured run")
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4, help="POSTs in flight")
    parser.add_argument("--hit-share", type=float, default=0.02)
    args = parser.parse_args()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    database_url = configure_env()
    operator_token, reader_tokens, hotlist_id = prepare(args.readers)
    print(f"copying {args.small_entries:,} hotlist entries ...", flush=True)
    copy_entries(database_url, hotlist_id, 0, args.small_entries)
    log_dir = Path(tempfile.mkdtemp(prefix="rtcc-bench-alpr-logs-"))
    server = Daphne(log_dir)
    base = f"http://127.0.0.1:{server.port}"
    try:
        warm = make_batches(min(args.reads, 5_000), args.hit_share, args.small_entries, seed=1)
        asyncio.run(run_phase(base, operator_token, reader_tokens, warm, args.concurrency))
        small = asyncio.run(
            run_phase(
                base,
                operator_token,
                reader_tokens,
                make_batches(args.reads, args.hit_share, args.small_entries, 2),
                args.concurrency,
            )
        )
        rss_small = server.rss_mb()
        print(f"{args.small_entries:,} entries: {small['reads_per_s']:,.0f} reads/s, daphne RSS {rss_small:.0f} MB")

        print(f"copying up to {args.entries:,} hotlist entries ...", flush=True)
        took = copy_entries(database_url, hotlist_id, args.small_entries, args.entries)
        print(f"  ({took:.1f}s)")
        batches = make_batches(args.reads, args.hit_share, args.entries, seed=3)
        big = asyncio.run(run_phase(base, operator_token, reader_tokens, batches, args.concurrency))
        rss_big = server.rss_mb()
    finally:
        server.stop()

    from apps.devices.models import Device  # Django was set up in prepare()

    reader_id = str(Device.objects.filter(serial="BENCH-ALPR-000").values_list("id", flat=True).get())
    copy_seconds = copy_baseline(database_url, batches, reader_id)
    copy_rate = len(batches) * 100 / copy_seconds if batches else 0.0
    lat = big["hit_latencies"]
    print()
    print(
        f"one daphne process, PostgreSQL, Redis layer; {args.entries:,} live entries; {args.reads:,} reads in "
        f"batches of 100, {args.hit_share:.0%} on the list; {args.concurrency} POSTs in flight, {args.readers} readers"
    )
    print(
        f"  rtcc:     {big['reads_per_s']:,.0f} reads/s stored ({big['accepted']:,} accepted, "
        f"{big['duplicates']} duplicates, {big['errors']} errors, {big['seconds']:.1f}s)"
    )
    print(f"  baseline: {copy_rate:,.0f} reads/s with psycopg COPY into alpr_read (same rows, a commit per 100)")
    print(f"  ratio:    {big['reads_per_s'] / copy_rate:.2f}x COPY (goal >= 0.5x; >= 5,000 reads/s)")
    print(
        f"  hit.new:  {len(lat)} hits, POST -> console p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms, "
        f"max {max(lat) * 1000 if lat else float('nan'):.0f} ms (goal p99 < 500 ms); "
        f"{big['hits_missing_on_console']} not seen"
    )
    mean = statistics.mean(lat) * 1000 if lat else float("nan")
    print(f"            mean {mean:.0f} ms")
    print(
        f"  memory:   daphne RSS {rss_small:.0f} MB at {args.small_entries:,} entries, {rss_big:.0f} MB at "
        f"{args.entries:,} ({rss_big - rss_small:+.0f} MB); {small['reads_per_s']:,.0f} reads/s at "
        f"{args.small_entries:,} entries"
    )


if __name__ == "__main__":
    main()
