"""Audit append rate from two processes at once, against a plain INSERT into an unchained table.

    .venv/bin/python bench/audit_append.py [--rounds 5] [--seconds 3] [--processes 2]

Environment (loopback services; nothing else is touched):
    DATABASE_URL   PostgreSQL server to use; the bench works in its OWN database on that server
                   (default postgres://postgres@127.0.0.1:5432/rtcc_bench_audit; created and
                   migrated when missing; its audit trail is emptied at the start of each run).

What it does, per round (the two kinds interleaved, so both see the same machine load):
  * plain: N processes each INSERT one row at a time, each in its own transaction, into an
    unchained table shaped like the audit trail (bench_plain_event: its columns and query
    indexes, without seq/prev_hash/hash), for --seconds;
  * audited: N processes each call `audit_record(...)` once per transaction for --seconds.
Prints the median rate of each over the rounds and the ratio audited/plain (goal >= 0.5), then
checks the whole chain (audit_verify_chain, as `manage.py verify_audit` does): the figure only
counts when the chain is intact and holds every appended event.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/rtcc_bench_audit"

# The audit table without its chain (no seq, prev_hash, hash): the same columns and the same
# query indexes (by object, by actor, by action and time, by time), so the ratio is what the
# chain costs.
PLAIN_TABLE = [
    """
CREATE TABLE bench_plain_event (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    actor_type varchar(16) NOT NULL,
    actor_id varchar(64) NOT NULL,
    actor_label varchar(150) NOT NULL,
    action varchar(64) NOT NULL,
    object_type varchar(32) NOT NULL,
    object_id varchar(64) NOT NULL,
    outcome varchar(16) NOT NULL,
    source_ip inet NULL,
    details jsonb NOT NULL
)""",
    "CREATE INDEX ON bench_plain_event (object_type, object_id, id)",
    "CREATE INDEX ON bench_plain_event (actor_type, actor_id, id)",
    "CREATE INDEX ON bench_plain_event (action, at)",
    "CREATE INDEX ON bench_plain_event (at)",
]


def setup() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    os.environ.setdefault("DJANGO_SECRET_KEY", "rtcc-bench-" + "k" * 40)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc.settings")
    os.environ["RTCC_EMBEDDED_BEAT"] = "false"
    import django

    django.setup()


def worker(kind: str, seconds: float, start_at: float, results) -> None:
    setup()
    import json

    from django.db import connection, transaction
    from django.utils import timezone

    from apps.audit.services import audit_record

    connection.ensure_connection()
    details = {"query": "plate ABC123", "n": 0}
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.perf_counter() + seconds
    count = 0
    pid = os.getpid()
    while time.perf_counter() < deadline:
        details["n"] = count
        if kind == "plain":
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO bench_plain_event (at, actor_type, actor_id, actor_label, action, object_type,"
                    " object_id, outcome, source_ip, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        timezone.now(),
                        "system",
                        "",
                        "system",
                        "bench.plain",
                        "thing",
                        str(pid),
                        "success",
                        "127.0.0.1",
                        json.dumps(details),
                    ],
                )
        else:
            with transaction.atomic():
                audit_record(
                    action="bench.audited",
                    object_type="thing",
                    object_id=pid,
                    source_ip="127.0.0.1",
                    details=details,
                )
        count += 1
    # waiting events are chained right after each commit; nothing is left behind
    results.put(count)


def run_round(kind: str, processes: int, seconds: float) -> float:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start_at = time.time() + 4.0  # every process set up and connected before the clock starts
    procs = [ctx.Process(target=worker, args=(kind, seconds, start_at, results)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    counts = [results.get(timeout=120 + seconds) for _ in procs]
    for proc in procs:
        proc.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    setup()
    from django.core.management import call_command
    from django.db import connection

    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL database (the bench's own)")
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)
    from apps.audit.models import AuditEvent, AuditHead
    from apps.audit.selectors import audit_verify_chain

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_event")
        for statement in PLAIN_TABLE:
            cursor.execute(statement)
        # the bench's own database: its trail starts empty each run
        cursor.execute(f"TRUNCATE {AuditEvent._meta.db_table}")
        cursor.execute(f"UPDATE {AuditHead._meta.db_table} SET seq = 0, hash = %s", ["0" * 64])
    connection.close()

    plain, audited, ratios = [], [], []
    print(f"{args.processes} processes, {args.seconds:g} s per measurement, {args.rounds} rounds ({name})")
    load_before = os.getloadavg()
    for n in range(1, args.rounds + 1):
        p = run_round("plain", args.processes, args.seconds)
        a = run_round("audited", args.processes, args.seconds)
        plain.append(p)
        audited.append(a)
        ratios.append(a / p)
        print(f"round {n}: plain {p:7.0f}/s  audited {a:7.0f}/s  ratio {a / p:.2f}", flush=True)

    load_after = os.getloadavg()
    verdict = audit_verify_chain()
    appended = AuditEvent.objects.filter(action="bench.audited").count()
    print(
        f"chain: {verdict.checked} events checked, {'intact' if verdict.ok else 'BROKEN'};"
        f" {appended} appended, {AuditEvent.objects.filter(seq__isnull=True).count()} waiting"
    )
    for problem in verdict.problems[:5]:
        print("  problem:", problem.message)
    mp, ma = statistics.median(plain), statistics.median(audited)
    print(f"plain INSERT (same run), median: {mp:.0f}/s")
    print(f"audited append, median:          {ma:.0f}/s")
    print(
        f"ratio audited/plain: {ma / mp:.2f} (median of per-round ratios {statistics.median(ratios):.2f}; goal >= 0.5)"
    )
    print(
        "load average (1/5/15 min) before {:.2f}/{:.2f}/{:.2f}, after {:.2f}/{:.2f}/{:.2f}"
        " (other work on the machine shows here)".format(*load_before, *load_after)
    )
    if not verdict.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
