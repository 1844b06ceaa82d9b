"""The public transparency report and the monthly outcome statistics over five years of activity:
rtcc's counters against plain COUNT(*) ... GROUP BY over the raw tables, in one run.

Fills a dedicated PostgreSQL database (migrated with `manage.py migrate`) with five years of
synthetic activity made in bulk by INSERT ... SELECT over generate_series: 10 million audit events
(commands by action, evidence accesses, live views, plate searches, hits created, confirmed and
rejected, leads created and reviewed per kind, briefings, and the trail's other events), 50 million
plate reads (read_at, and deleted_at 30 days later unless kept behind a hit) and 200,000 assists
with one to three outcome codes and tools. rtcc's activity counters (apps.counters: hour, day and
month buckets, which rtcc writes in the same transaction as each counted event) are filled from
the same rows, so both sides count the same events; the run checks that they agree.

Timed (p50, p99), each through rtcc's real code (URL routing, middleware, DRF view, selector):
- GET /api/v1/transparency for the last 30 days (the default), the last year and all five years;
- GET /api/v1/stats/outcomes?interval=month over the last year and all five years (as an operator).
Baseline, same run, same windows: the same figures (totals and the per-month series) by plain
COUNT(*) ... GROUP BY over the raw tables (the audit trail, the plate reads, the assists), timed
as bare SQL through psycopg (no ORM, no HTTP), which favours the baseline.
Goal: p99 under 50 ms and at least 20x faster than the baseline.

Run:   .venv/bin/python bench/transparency.py [--scale 1.0] [--requests 300] [--baseline-rounds 7]
Env:   BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rtcc_transparency_bench)
The data is kept between runs (generated again only when the scale changes); `--fresh` drops it.
"""

# ruff: noqa: E501 - SQL reads best unwrapped
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rtcc_transparency_bench")
AUDIT_EVENTS = 10_000_000
PLATE_READS = 50_000_000
ASSISTS = 200_000
YEARS = 5

# (action, details, share of the trail): the counted actions, then the trail's other events.
AUDIT_MIX = [
    ("command.create", '{"action": "start_recording"}', 0.05),
    ("command.create", '{"action": "stop_recording"}', 0.04),
    ("clip.access", "{}", 0.05),
    ("live.view", "{}", 0.02),
    ("plate_read.search", "{}", 0.03),
    ("hit.create", "{}", 0.06),
    ("hit.confirm", "{}", 0.02),
    ("hit.reject", "{}", 0.03),
    ("lead.create", '{"kind": "facial_recognition"}', 0.002),
    ("lead.create", '{"kind": "nibin"}', 0.002),
    ("lead.create", '{"kind": "other"}', 0.001),
    ("lead.verified", '{"kind": "facial_recognition"}', 0.001),
    ("lead.rejected", '{"kind": "facial_recognition"}', 0.001),
    ("lead.verified", '{"kind": "nibin"}', 0.0015),
    ("lead.rejected", '{"kind": "nibin"}', 0.0005),
    ("lead.verified", '{"kind": "other"}', 0.0005),
    ("lead.rejected", '{"kind": "other"}', 0.0005),
    ("briefing.create", "{}", 0.03),
    ("command.sent", "{}", 0.09),
    ("command.delivered", "{}", 0.09),
    ("command.succeeded", "{}", 0.08),
    ("clip.upload", "{}", 0.1),
    ("device.enroll", "{}", 0.01),
]
AUDIT_MIX.append(("clip.verify", "{}", 1 - sum(share for _a, _d, share in AUDIT_MIX)))

# How an audit row maps to a counter name (what rtcc's services count when they write the row).
COUNTER_OF_AUDIT = """CASE
  WHEN action = 'command.create' THEN 'command.' || (details->>'action')
  WHEN action = 'clip.access' THEN 'evidence.access'
  WHEN action = 'live.view' THEN 'live.view'
  WHEN action = 'plate_read.search' THEN 'alpr.search'
  WHEN action = 'hit.create' THEN 'alpr.hit.new'
  WHEN action = 'hit.confirm' THEN 'alpr.hit.confirmed'
  WHEN action = 'hit.reject' THEN 'alpr.hit.rejected'
  WHEN action = 'lead.create' THEN 'lead.' || (details->>'kind') || '.created'
  WHEN action IN ('lead.verified', 'lead.rejected') THEN 'lead.' || (details->>'kind') || '.' || split_part(action, '.', 2)
  WHEN action = 'briefing.create' THEN 'briefing.sent'
END"""
COUNTED_ACTIONS = sorted({a for a, _d, _s in AUDIT_MIX[:18]})
OUTCOMES = [
    "assisted_on_scene",
    "vehicle_info",
    "suspect_info",
    "recovered_vehicle",
    "recovered_property",
    "recovered_gun",
    "recovered_drugs",
    "case_info",
    "missing_person_located",
    "arrest",
    "assisted_other_agency",
]
TOOLS = ["alpr", "bodycam", "live_view", "facial_recognition", "nibin", "briefing", "other"]


def ensure_database(fresh: bool) -> None:
    import psycopg

    parts = urlsplit(DB_URL)
    name = parts.path.lstrip("/")
    admin = DB_URL[: -len(parts.path)] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}"')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("RTCC_S3_BUCKET", None)
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-transparency-" + "k" * 40)
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost")
    os.environ.setdefault("RTCC_DATA_DIR", tempfile.mkdtemp(prefix="rtcc-bench-transparency-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "rtcc.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def step(label: str, sql: str, params=None) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)


def populate(*, scale: float, end: datetime) -> None:
    """The raw rows (kept between runs for the same scale and end day) and the counters built from them."""
    from django.db import connection

    audit_n, reads_n, assists_n = int(AUDIT_EVENTS * scale), int(PLATE_READS * scale), int(ASSISTS * scale)
    marker = f"{scale}:{end.date().isoformat()}"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_marker (value text)")
        cursor.execute("SELECT value FROM bench_marker")
        row = cursor.fetchone()
    if row and row[0] == marker:
        print(f"data already present ({marker})", flush=True)
        return
    print(f"generating {audit_n:,} audit events, {reads_n:,} plate reads, {assists_n:,} assists ...", flush=True)
    start = end - timedelta(days=365 * YEARS + 1)
    span = (end - start).total_seconds()
    step(
        "clear",
        "TRUNCATE audit_auditevent, outcomes_assist, counters_count; DROP TABLE IF EXISTS bench_plate_read; "
        "DELETE FROM bench_marker",
    )
    # the audit trail: action chosen by the row's place in a repeating mix, times spread over five years
    mix, acc = [], 0.0
    for action, details, share in AUDIT_MIX:
        acc += share
        mix.append((acc, action, details))
    case_action = "CASE " + " ".join(f"WHEN r < {a:.6f} THEN '{act}'" for a, act, _d in mix) + " ELSE 'clip.verify' END"
    case_details = (
        "CASE " + " ".join(f"WHEN r < {a:.6f} THEN '{d}'::jsonb" for a, _act, d in mix) + " ELSE '{}'::jsonb END"
    )
    step(
        "audit events",
        f"""INSERT INTO audit_auditevent (seq, at, actor_type, actor_id, actor_label, action, object_type, object_id,
               outcome, source_ip, details, prev_hash, hash)
            SELECT i, %s::timestamptz + (i * %s / %s) * interval '1 second', 'user', (i %% 97)::text, 'bench',
                   {case_action}, 'bench', i::text, 'success', NULL, {case_details}, '', ''
            FROM (SELECT i, ((i * 7919) %% 100000) / 100000.0 AS r FROM generate_series(1::bigint, %s::bigint) AS i) AS s""",
        [start, span, audit_n, audit_n],
    )
    # plate reads: kept 30 days, then deleted (one in fifty is kept behind a hit)
    step(
        "plate reads",
        """CREATE TABLE bench_plate_read AS
           SELECT i AS id, %s::timestamptz + (i * %s / %s) * interval '1 second' AS read_at,
                  CASE WHEN i %% 50 = 0 THEN NULL
                       ELSE %s::timestamptz + (i * %s / %s) * interval '1 second' + interval '30 days' END AS deleted_at
           FROM generate_series(1::bigint, %s::bigint) AS i""",
        [start, span, reads_n, start, span, reads_n, reads_n],
    )
    step("plate reads: index read_at", "CREATE INDEX ON bench_plate_read (read_at)")
    step("plate reads: index deleted_at", "CREATE INDEX ON bench_plate_read (deleted_at)")
    # assists: one to three outcome codes and tools each
    outcomes = "ARRAY[" + ",".join(f"'{c}'" for c in OUTCOMES) + "]"
    tools = "ARRAY[" + ",".join(f"'{t}'" for t in TOOLS) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_user WHERE username = 'bench-operator'")
        operator = cursor.fetchone()
    if operator is None:
        from apps.accounts.models import User

        User.objects.create(username="bench-operator", role="operator", password="!")
    step(
        "assists",
        f"""INSERT INTO outcomes_assist (id, outcomes, tools, case_number, notes, occurred_at, created_by_id,
                                         created_at, updated_at, incident_id, officer_id, briefing_id, lead_id, hit)
            SELECT gen_random_uuid(),
                   to_jsonb((SELECT array_agg(DISTINCT ({outcomes})[1 + ((i * k * 31) %% 11)::int]) FROM generate_series(1, 1 + i %% 3) k)),
                   to_jsonb((SELECT array_agg(DISTINCT ({tools})[1 + ((i * k * 17) %% 7)::int]) FROM generate_series(1, 1 + i %% 2) k)),
                   '', '', %s::timestamptz + (i * %s / %s) * interval '1 second',
                   (SELECT id FROM accounts_user WHERE username = 'bench-operator'), now(), now(),
                   NULL, NULL, NULL, NULL, NULL
            FROM generate_series(1::bigint, %s::bigint) AS i""",
        [start, span, assists_n, assists_n],
    )
    # the counters rtcc would have written with each of those events: hour, day and month buckets
    levels = [("h", "hour"), ("d", "day"), ("m", "month")]
    for level, unit in levels:
        step(
            f"counters ({unit}): audit",
            f"""INSERT INTO counters_count (level, start, name, n)
                SELECT '{level}', date_trunc('{unit}', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', name, count(*)
                FROM (SELECT at, {COUNTER_OF_AUDIT} AS name FROM audit_auditevent) AS e
                WHERE name IS NOT NULL GROUP BY 2, 3""",
        )
        for name, column in (("alpr.reads.received", "read_at"), ("alpr.reads.deleted", "deleted_at")):
            step(
                f"counters ({unit}): {name}",
                f"""INSERT INTO counters_count (level, start, name, n)
                    SELECT '{level}', date_trunc('{unit}', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', '{name}', count(*)
                    FROM bench_plate_read WHERE {column} IS NOT NULL AND {column} < %s GROUP BY 2""",
                [end],
            )
        step(
            f"counters ({unit}): assists",
            f"""INSERT INTO counters_count (level, start, name, n)
                SELECT '{level}', b, name, count(*) FROM (
                  SELECT date_trunc('{unit}', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, 'assist' AS name
                    FROM outcomes_assist
                  UNION ALL SELECT date_trunc('{unit}', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 'assist.' || code
                    FROM outcomes_assist, jsonb_array_elements_text(outcomes) AS code
                  UNION ALL SELECT date_trunc('{unit}', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 'assist.tool.' || tool
                    FROM outcomes_assist, jsonb_array_elements_text(tools) AS tool
                ) AS x GROUP BY 2, 3""",
        )
    step("analyze", "ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_marker VALUES (%s)", [marker])


# Baseline: the same figures straight from the raw tables ----------------------------------------


def baseline_report(cursor, start: datetime, end: datetime) -> dict:
    """Totals and the per-month series of the report, by COUNT(*) ... GROUP BY over the raw rows."""
    cursor.execute(
        f"""SELECT date_trunc('month', at AT TIME ZONE 'UTC') AS month, {COUNTER_OF_AUDIT} AS name, count(*)
            FROM audit_auditevent WHERE at >= %s AND at < %s AND action = ANY(%s) GROUP BY 1, 2""",
        [start, end, COUNTED_ACTIONS],
    )
    totals: dict[str, int] = {}
    for _month, name, n in cursor.fetchall():
        totals[name] = totals.get(name, 0) + n
    for name, column in (("alpr.reads.received", "read_at"), ("alpr.reads.deleted", "deleted_at")):
        cursor.execute(
            f"""SELECT date_trunc('month', {column} AT TIME ZONE 'UTC'), count(*) FROM bench_plate_read
                WHERE {column} >= %s AND {column} < %s GROUP BY 1""",
            [start, end],
        )
        totals[name] = sum(n for _m, n in cursor.fetchall())
    return totals


def baseline_stats(cursor, start: datetime, end: datetime) -> dict:
    cursor.execute(
        """SELECT date_trunc('month', occurred_at AT TIME ZONE 'UTC'), count(*) FROM outcomes_assist
           WHERE occurred_at >= %s AND occurred_at < %s GROUP BY 1""",
        [start, end],
    )
    totals = {"assist": sum(n for _m, n in cursor.fetchall())}
    cursor.execute(
        """SELECT date_trunc('month', occurred_at AT TIME ZONE 'UTC'), code, count(*)
           FROM outcomes_assist, jsonb_array_elements_text(outcomes) AS code
           WHERE occurred_at >= %s AND occurred_at < %s GROUP BY 1, 2""",
        [start, end],
    )
    for _m, code, n in cursor.fetchall():
        totals[f"assist.{code}"] = totals.get(f"assist.{code}", 0) + n
    return totals


def flat_report(report: dict) -> dict:
    out = {
        "command.start_recording": report["remote_recording"]["start_recording"],
        "command.stop_recording": report["remote_recording"]["stop_recording"],
        "live.view": report["live_views"],
        "evidence.access": report["evidence_accesses"],
        "alpr.reads.received": report["plate_reads"]["received"],
        "alpr.reads.deleted": report["plate_reads"]["deleted"],
        "alpr.search": report["plate_searches"],
        "briefing.sent": report["briefings"],
    }
    for state, n in report["hits"].items():
        out[f"alpr.hit.{state}"] = n
    for kind, counts in report["leads"].items():
        for event, n in counts.items():
            out[f"lead.{kind}.{event}"] = n
    return {k: v for k, v in out.items() if v}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 10M/50M/200k rows (default 1.0)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per rtcc case")
    parser.add_argument("--baseline-rounds", type=int, default=7, help="timed rounds per baseline case")
    parser.add_argument("--fresh", action="store_true", help="drop the bench database first")
    parser.add_argument("--only", choices=["transparency", "stats"], help="time only these cases")
    args = parser.parse_args()

    ensure_database(args.fresh)
    setup_django()
    from django.db import connection
    from django.test import Client

    from apps.accounts.models import User

    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    populate(scale=args.scale, end=end)
    with connection.cursor() as cursor:  # the trail's head follows the synthetic rows (rtcc appends after them)
        cursor.execute(
            "INSERT INTO audit_audithead (id, seq, hash) SELECT 1, coalesce(max(seq), 0), '' FROM audit_auditevent "
            "ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq WHERE audit_audithead.seq < EXCLUDED.seq"
        )

    public = Client()
    operator = User.objects.get(username="bench-operator")
    from apps.accounts.services import token_issue

    token, _ = token_issue(user=operator)
    staff = Client(HTTP_AUTHORIZATION=f"Bearer {token}")  # an operator's API token
    windows = {
        "30 days": (end - timedelta(days=30), end),
        "1 year": (end - timedelta(days=365), end),
        "5 years": (end - timedelta(days=365 * YEARS), end),
    }

    def iso(value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    cases = []
    for label, (start, stop) in windows.items():
        cases.append(
            (
                "transparency",
                label,
                public,
                f"/api/v1/transparency?{urlencode({'from': iso(start), 'to': iso(stop)})}",
                start,
                stop,
            )
        )
    for label in ("1 year", "5 years"):
        start, stop = windows[label]
        query = urlencode({"from": iso(start), "to": iso(stop), "interval": "month"})
        cases.append(("stats monthly", label, staff, f"/api/v1/stats/outcomes?{query}", start, stop))

    print(
        f"\n{'what':<16}{'window':<10}{'rtcc p50':>10}{'rtcc p99':>10}{'base p50':>11}{'base p99':>11}{'x p50':>8}{'x p99':>8}"
    )
    worst_p99, worst_ratio, agree = 0.0, float("inf"), True
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")  # as a typical OLTP setting; the baseline is not slowed by JIT compiles
        for what, label, client, url, start, stop in cases:
            if args.only and not what.startswith(args.only):
                continue
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]
            body = response.json()
            if what == "transparency":
                expected = baseline_report(cursor, start, stop)
                got = flat_report(body)
                base = timed(lambda s=start, e=stop: baseline_report(cursor, s, e), args.baseline_rounds)
            else:
                expected = baseline_stats(cursor, start, stop)
                got = {"assist": body["assists"], **{f"assist.{c}": n for c, n in body["outcomes"].items() if n}}
                base = timed(lambda s=start, e=stop: baseline_stats(cursor, s, e), args.baseline_rounds)
            expected = {k: v for k, v in expected.items() if v}
            if got != expected:
                agree = False
                print(f"  MISMATCH {what} {label}: rtcc {got} baseline {expected}")
            for _ in range(5):
                client.get(url)  # warm
            ours = timed(lambda c=client, u=url: c.get(u), args.requests)
            p50, p99 = percentile(ours, 0.5), percentile(ours, 0.99)
            b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
            worst_p99 = max(worst_p99, p99)
            worst_ratio = min(worst_ratio, b99 / p99)
            print(
                f"{what:<16}{label:<10}{p50:>8.1f}ms{p99:>8.1f}ms{b50:>9.1f}ms{b99:>9.1f}ms{b50 / p50:>7.0f}x{b99 / p99:>7.0f}x"
            )
    print(
        f"\nrows: {int(AUDIT_EVENTS * args.scale):,} audit events, {int(PLATE_READS * args.scale):,} plate reads, "
        f"{int(ASSISTS * args.scale):,} assists over {YEARS} years; counts agree with the baseline: {agree}"
    )
    print(
        f"worst rtcc p99 {worst_p99:.1f} ms (goal < 50 ms); smallest p99 ratio {worst_ratio:.0f}x (goal >= 20x): "
        f"{'MET' if worst_p99 < 50 and worst_ratio >= 20 and agree else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
