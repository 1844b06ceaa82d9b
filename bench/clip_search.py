"""Footage search over a million clips in PostgreSQL: rtcc's search against the bare index scans, in one run.

Fills a dedicated database (migrated with `manage.py migrate`) with clips generated in bulk by one
INSERT ... SELECT over generate_series: 2,000 officers each with a camera (5% of clips on a spare
camera), three years of recordings, 50 categories (60% uncategorized, 15% evidence), case numbers
on 10%, incidents on 5%, locations over a 30 x 30 km city on 90%, stored in arrival (time) order.
The data is kept between runs (only missing clips are added). Then 20 realistic clerk searches
(officer and time range, case number, category, near a point, device, incident, the newest page)
run through rtcc's real code:
query parameters parsed and checked, the ORM queryset of records_selectors.clip_search, and the
search paginator (one page of 50, plus the capped count), timed end to end in Python.
Baseline, same run, same queries: the page query's bare execution time as EXPLAIN ANALYZE reports
it (PostgreSQL's own clock, no planning, no driver, no ORM). Goal: p95 under 20 ms.

Run:   .venv/bin/python bench/clip_search.py [--clips 1000000] [--rounds 7]
Env:   BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rtcc_records_bench)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rtcc_records_bench")
OFFICERS = 2000
CATEGORIES = 50


def ensure_database() -> None:
    import psycopg

    parts = urlsplit(DB_URL)
    name = parts.path.lstrip("/")
    admin = DB_URL[: -len(parts.path)] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("RTCC_S3_BUCKET", None)
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-clip-search-" + "k" * 40)
    os.environ.setdefault("RTCC_DATA_DIR", tempfile.mkdtemp(prefix="rtcc-bench-search-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "rtcc.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate(total: int) -> None:
    from django.db import connection

    from apps.accounts.models import User
    from apps.devices.models import Device
    from apps.footage.models import Category, Clip

    if User.objects.filter(username__startswith="bench-officer-").count() < OFFICERS:
        User.objects.bulk_create(
            [User(username=f"bench-officer-{i:05d}", role="officer", password="!") for i in range(OFFICERS)],
            ignore_conflicts=True,
        )
    if not User.objects.filter(username="bench-clerk").exists():
        User.objects.create(username="bench-clerk", role="clerk", password="!")
    if Device.objects.filter(serial__startswith="BENCH-").count() < OFFICERS + 100:
        officers = list(User.objects.filter(username__startswith="bench-officer-").order_by("username"))
        Device.objects.bulk_create(
            [
                Device(kind="bodycam", serial=f"BENCH-{i:05d}", officer=officers[i] if i < OFFICERS else None)
                for i in range(OFFICERS + 100)
            ],
            ignore_conflicts=True,
        )
    for i in range(CATEGORIES - Category.objects.count()):
        Category.objects.get_or_create(
            slug=f"bench-cat-{i:02d}",
            defaults={"name": f"Bench {i}", "retention_days": random.choice([90, 365, 3 * 365, 7 * 365, None])},
        )
    bench_categories = Category.objects.filter(slug__startswith="bench-cat-").count()
    have = Clip.objects.count()
    if have >= total:
        return
    missing = total - have
    print(f"generating {missing:,} clips in bulk (INSERT ... SELECT generate_series) ...", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
WITH o AS (SELECT array_agg(id ORDER BY username) AS a FROM accounts_user WHERE username LIKE 'bench-officer-%%'),
     d AS (SELECT array_agg(id ORDER BY serial) AS a FROM devices_device WHERE serial LIKE 'BENCH-%%'),
     c AS (SELECT array_agg(id ORDER BY slug) AS a, array_agg(retention_days ORDER BY slug) AS r
           FROM footage_category WHERE slug LIKE 'bench-cat-%%'),
     u AS (SELECT id FROM footage_category WHERE slug = 'uncategorized'),
     e AS (SELECT id FROM footage_category WHERE slug = 'evidence'),
     rows AS (
       SELECT g,
              1 + floor(%(officers)s * power(random(), 1.3))::int AS k,
              random() AS spare, random() AS rc, 1 + floor(random() * %(cats)s)::int AS ci,
              now() - random() * interval '3 years' AS s,
              make_interval(secs => 30 + random() * 1770) AS dur,
              random() AS rcase, random() AS rinc, random() AS rloc, random() AS rstate, random() AS rtrig
       FROM generate_series(%(first)s, %(last)s) AS g)
INSERT INTO footage_clip (id, device_id, officer_id, recording_id, started_at, ended_at, duration_s, size_bytes,
  sha256, content_type, state, trigger, command_id, category_id, case_number, incident_id, legal_hold,
  retain_until, lat, lon, accuracy_m, storage_key, upload_id, part_size, part_count, observed_size,
  observed_sha256, created_at, updated_at, completed_at, verified_at, aborted_at, purged_at, purged_by_id,
  purge_reason, object_lock_until, object_locked_at)
SELECT gen_random_uuid(),
       CASE WHEN rows.spare < 0.05 THEN d.a[%(officers)s + 1 + (rows.g %% 100)] ELSE d.a[rows.k] END,
       o.a[rows.k], 'bench-' || rows.g, rows.s, rows.s + rows.dur, extract(epoch FROM rows.dur),
       (50 + floor(random() * 2000)) * 1048576,
       md5(rows.g::text) || md5('x' || rows.g::text), 'video/mp4',
       CASE WHEN rows.rstate < 0.97 THEN 'available' WHEN rows.rstate < 0.98 THEN 'uploading'
            WHEN rows.rstate < 0.985 THEN 'corrupt' WHEN rows.rstate < 0.99 THEN 'aborted' ELSE 'purged' END,
       CASE WHEN rows.rtrig < 0.7 THEN 'manual' WHEN rows.rtrig < 0.9 THEN 'auto' ELSE 'remote' END, NULL,
       CASE WHEN rows.rc < 0.6 THEN u.id WHEN rows.rc < 0.75 THEN e.id ELSE c.a[rows.ci] END,
       CASE WHEN rows.rcase < 0.10 THEN 'C-' || lpad((floor(rows.rcase * 400000))::text, 6, '0') ELSE '' END,
       CASE WHEN rows.rinc < 0.05 THEN md5('incident' || floor(rows.rinc * 400000)::text)::uuid END,
       rows.rstate < 0.99 AND random() < 0.01,
       CASE WHEN rows.rc < 0.6 THEN rows.s + interval '180 days' WHEN rows.rc < 0.75 THEN NULL
            WHEN c.r[rows.ci] IS NULL THEN NULL ELSE rows.s + make_interval(days => c.r[rows.ci]) END,
       CASE WHEN rows.rloc < 0.9 THEN 40.60 + random() * 0.27 END,
       CASE WHEN rows.rloc < 0.9 THEN -74.15 + random() * 0.35 END,
       CASE WHEN rows.rloc < 0.9 THEN 5 + random() * 20 END,
       'clips/bench/' || rows.g || '.mp4', '', 8388608, 1, NULL, '',
       rows.s + rows.dur, rows.s + rows.dur, rows.s + rows.dur, rows.s + rows.dur, NULL, NULL, NULL, '', NULL, NULL
FROM rows, o, d, c, u, e
ORDER BY rows.s  -- in arrival order, as a camera fleet fills the table
""",
            {"officers": OFFICERS, "cats": bench_categories, "first": have + 1, "last": total},
        )
        cursor.execute("VACUUM ANALYZE footage_clip")
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)


def searches() -> list[tuple[str, dict]]:
    """20 searches a records clerk makes, with real values drawn from the data."""
    from django.db import connection

    from apps.footage.models import Category

    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT officer_id::text FROM footage_clip TABLESAMPLE SYSTEM (0.1) REPEATABLE (7) "
            "WHERE officer_id IS NOT NULL LIMIT 20"
        )
        officers = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT device_id::text FROM footage_clip TABLESAMPLE SYSTEM (0.1) REPEATABLE (8) LIMIT 5")
        devices = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            "SELECT case_number FROM footage_clip TABLESAMPLE SYSTEM (0.5) REPEATABLE (9) "
            "WHERE case_number <> '' LIMIT 8"
        )
        cases = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            "SELECT incident_id::text FROM footage_clip TABLESAMPLE SYSTEM (0.5) REPEATABLE (10) "
            "WHERE incident_id IS NOT NULL LIMIT 3"
        )
        incidents = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT now()")
        now = cursor.fetchone()[0]
    rare = list(Category.objects.filter(slug__startswith="bench-cat-").values_list("slug", flat=True))

    def days_ago(days: float) -> str:
        from datetime import timedelta

        return (now - timedelta(days=days)).isoformat()

    out = []
    for i in range(6):  # an officer's footage over a month, somewhere in the three years
        start = rng.uniform(30, 3 * 365)
        out.append(
            (
                f"officer + 30 days #{i + 1}",
                {"officer": officers[i], "from": days_ago(start), "to": days_ago(start - 30)},
            )
        )
    out.append(("officer, all time", {"officer": officers[6]}))
    for i in range(4):
        out.append((f"case number #{i + 1}", {"case_number": cases[i]}))
    out.append(("rare category", {"category": rare[0]}))
    out.append(("rare category + 90 days", {"category": rare[1], "from": days_ago(200), "to": days_ago(110)}))
    out.append(("uncategorized, last 7 days", {"category": "uncategorized", "from": days_ago(7)}))
    out.append(("near a point, 300 m", {"near": "40.7306,-73.9866,300"}))
    out.append(("near a point, 500 m + 14 days", {"near": "40.6782,-73.9442,500", "from": days_ago(14)}))
    out.append(
        (
            "near a point, 1 km + officer",
            {"lat": "40.7580", "lon": "-73.9855", "radius_m": "1000", "officer": officers[7]},
        )
    )
    out.append(("device + 60 days", {"device": devices[0], "from": days_ago(60)}))
    out.append(("incident", {"incident": incidents[0]}))
    out.append(("newest page, corrupt clips", {"state": "corrupt"}))
    return out


def timed_search(clerk, params: dict, factory) -> tuple[float, float, int, int]:
    from rest_framework.request import Request

    from apps.footage.records import selectors as records_selectors
    from apps.footage.records.apis import ClipSearchIn, ClipSearchPagination

    started, cpu = time.perf_counter(), time.process_time()
    request = Request(factory.get("/api/v1/clips", params))
    filters = ClipSearchIn(data=request.query_params)
    filters.is_valid(raise_exception=True)
    queryset = records_selectors.clip_search(user=clerk, filters=filters.validated_data)
    paginator = ClipSearchPagination()
    page = paginator.paginate_queryset(queryset, request)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return elapsed, cpu, len(page), paginator.total


def explain_ms(clerk, params: dict, factory) -> float:
    """EXPLAIN ANALYZE's execution time of the same page query (what the index scan itself costs)."""
    from django.db import connection
    from rest_framework.request import Request

    from apps.footage.records import selectors as records_selectors
    from apps.footage.records.apis import ClipSearchIn

    request = Request(factory.get("/api/v1/clips", params))
    filters = ClipSearchIn(data=request.query_params)
    filters.is_valid(raise_exception=True)
    sql, args = records_selectors.clip_search(user=clerk, filters=filters.validated_data)[:51].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, args)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Execution Time"])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    ensure_database()
    setup_django()
    populate(args.clips)

    from rest_framework.test import APIRequestFactory

    from apps.accounts.models import User
    from apps.footage.models import Clip

    clerk = User.objects.get(username="bench-clerk")
    factory = APIRequestFactory()
    queries = searches()
    print(f"{Clip.objects.count():,} clips; {len(queries)} searches x {args.rounds} rounds (after a warm-up round)")
    for _, params in queries:  # warm-up: caches, plans
        timed_search(clerk, params, factory)
        explain_ms(clerk, params, factory)

    ours: dict[str, list[float]] = {name: [] for name, _ in queries}
    cpus: list[float] = []
    base: dict[str, list[float]] = {name: [] for name, _ in queries}
    meta: dict[str, tuple[int, int]] = {}
    order = list(queries)
    for _ in range(args.rounds):
        random.shuffle(order)
        for name, params in order:
            elapsed, cpu, rows, count = timed_search(clerk, params, factory)
            ours[name].append(elapsed * 1000)
            cpus.append(cpu * 1000)
            meta[name] = (rows, count)
            base[name].append(explain_ms(clerk, params, factory))

    print(f"\n{'search':34} {'rows':>5} {'count':>9} {'rtcc p50':>9} {'EXPLAIN p50':>12}")
    for name, _ in queries:
        rows, count = meta[name]
        print(
            f"{name:34} {rows:5d} {count:9,d} {statistics.median(ours[name]):8.2f}ms "
            f"{statistics.median(base[name]):10.2f}ms"
        )
    all_ours = [v for values in ours.values() for v in values]
    all_base = [v for values in base.values() for v in values]
    p50, p95 = pct(all_ours, 50), pct(all_ours, 95)
    b50, b95 = pct(all_base, 50), pct(all_base, 95)
    print(
        f"\nrtcc search (parse + ORM page + count), {len(all_ours)} samples: p50 {p50:.2f} ms, p95 {p95:.2f} ms "
        f"(goal p95 < 20 ms: {'met' if p95 < 20 else 'NOT met'})"
    )
    print(f"baseline, EXPLAIN ANALYZE execution time of the same page queries: p50 {b50:.2f} ms, p95 {b95:.2f} ms")
    print(f"ratio rtcc / bare index scan: p50 {p50 / b50:.1f}x, p95 {p95 / b95:.1f}x")
    print(
        f"(rtcc's own CPU time per search: p50 {pct(cpus, 50):.2f} ms, p95 {pct(cpus, 95):.2f} ms; "
        f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
