"""One briefing to 10,000 officer phones through the FCM fake, against django-push-notifications.

What is timed: from the operator's POST /api/v1/briefings (an incident audience of 10,000
officers, each with one phone) until the FCM fake has accepted the last message. The fake
stamps each acceptance with time.monotonic(); so does this script, and on Linux both read the
same system-wide CLOCK_MONOTONIC, so `last_at - t0` is the elapsed time. Every delivery row is
checked afterwards (all `sent`).

rtcc runs the way production does when --worker is given (default when Redis answers): the
POST enqueues one Celery task per 500 deliveries on Redis and a real `celery -A rtcc worker`
sends them (--pool prefork with one process per core by default, as production runs it: each
process is bound by Python's GIL, so one per core beats threads; --pool threads --concurrency 8
shares one process's FCM connections and tops out near one core);
with --no-worker the tasks run eagerly in this process.

Baseline, same run, same fake, same 10,000 tokens, same message (firebase-admin's Message
built by rtcc): django-push-notifications' `GCMDevice.objects.filter(...).send_message(message)`,
i.e. firebase-admin's send_each in chunks of 500 (FCM_MAX_RECIPIENTS=500: its default of
1000 makes send_each raise). Its firebase app is pointed at the fake by setting the send URL
only (firebase-admin's own HTTP adapter, pool and retries left as they are).

Run:   .venv/bin/python bench/briefing_push.py [--phones 10000] [--worker/--no-worker] [--concurrency 2]
Env:   BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/rtcc_bench_briefings, created
       and migrated if missing; the officers and phones are kept between runs),
       BENCH_REDIS_URL (default redis://127.0.0.1:6379/4) for the worker mode.
Goal:  >= 2,000 messages/s and >= 3x the baseline's throughput.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import launch  # noqa: E402

BENCH = Path(__file__).resolve().parent
FAKE = ROOT / "infra" / "fakes" / "fcm_server.py"
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rtcc_bench_briefings")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
WORKDIR = Path(tempfile.mkdtemp(prefix="rtcc-bench-push-"))


def answers(url: str) -> bool:
    parts = urlsplit(url)
    return launch.answers(parts.port or 6379, parts.hostname or "127.0.0.1")


def ensure_database() -> None:
    import psycopg

    parts = urlsplit(DB_URL)
    name = parts.path.lstrip("/")
    admin = DB_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def start_fake() -> tuple[launch.Process, str, Path]:
    process, settings = launch.start_fcm_fake(workdir=WORKDIR, log=WORKDIR / "fcm-fake.log")
    return process, settings["RTCC_FCM_ENDPOINT"], Path(settings["GOOGLE_APPLICATION_CREDENTIALS"])


def fake(base: str, path: str, body: dict | None = None) -> dict:
    import httpx

    if body is None and path != "/_reset":
        return httpx.get(base + path, timeout=30).json()
    return httpx.post(base + path, json=body or {}, timeout=30).json()


def wait_accepted(base: str, count: int, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = fake(base, "/_stats")
        if stats["counts"].get("accepted", 0) >= count:
            return stats
        time.sleep(0.05)
    raise SystemExit(f"the fake accepted only {stats['counts'].get('accepted', 0)} of {count} in {timeout:.0f}s")


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    import django

    django.setup()
    import logging

    # quiet per-request chatter (httpx INFO lines, urllib3's "pool is full" warnings): printing
    # them would slow whichever side logs more
    for name in ("httpx", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def ensure_fleet(phones: int):
    """`phones` officers with one phone each (kept between runs), all assigned to one incident."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from push_notifications.models import GCMDevice

    from apps.accounts.models import User
    from apps.briefings.models import Briefing, Incident, IncidentOfficer
    from apps.devices.models import Device, DeviceKind

    Briefing.objects.all().delete()  # earlier runs' deliveries
    have = User.objects.filter(username__startswith="bench-officer-").count()
    if have < phones:
        print(f"creating {phones - have} officers with a phone each ...", flush=True)
        password = make_password(None)
        now = timezone.now()
        for start in range(have, phones, 2000):
            batch = User.objects.bulk_create(
                [
                    User(
                        username=f"bench-officer-{i:06d}",
                        role="officer",
                        password=password,
                        full_name=f"Bench Officer {i}",
                    )
                    for i in range(start, min(phones, start + 2000))
                ]
            )
            Device.objects.bulk_create(
                [
                    Device(
                        kind=DeviceKind.PHONE,
                        serial=f"BENCH-PH-{u.username[-6:]}",
                        officer=u,
                        push_token=f"bench-{u.username[-6:]}-{'x' * 140}",
                        push_token_hash=hashlib.sha256(f"bench-{u.username[-6:]}-{'x' * 140}".encode()).hexdigest(),
                        push_token_updated_at=now,
                    )
                    for u in batch
                ]
            )
    officers = list(
        User.objects.filter(username__startswith="bench-officer-")
        .order_by("username")
        .values_list("pk", flat=True)[:phones]
    )
    tokens = list(
        Device.objects.filter(officer_id__in=officers, kind=DeviceKind.PHONE).values_list("push_token", flat=True)
    )
    # the baseline's own device table holds the same tokens
    if GCMDevice.objects.count() != len(tokens):
        GCMDevice.objects.all().delete()
        GCMDevice.objects.bulk_create(
            [GCMDevice(registration_id=t, cloud_message_type="FCM", active=True) for t in tokens], batch_size=2000
        )
    incident, _ = Incident.objects.get_or_create(title="Bench: city-wide BOLO", defaults={"lat": 40.7, "lon": -74.0})
    if incident.assignments.count() != len(officers):
        IncidentOfficer.objects.filter(incident=incident).delete()
        IncidentOfficer.objects.bulk_create(
            [IncidentOfficer(incident=incident, officer_id=o) for o in officers], batch_size=2000
        )
    operator, _ = User.objects.get_or_create(username="bench-operator", defaults={"role": "operator"})
    return incident, operator, tokens


PAYLOAD: dict[str, Any] = {
    "priority": "urgent",
    "title": "Armed robbery suspect",
    "suspects": [{"description": "30s, red hoodie", "sex": "Male", "armed": True}],
    "vehicles": [{"plate": "ABC123", "make": "Honda", "model": "Civic", "color": "Silver", "direction": "north"}],
    "audience": {"incident": True},
}


def run_rtcc(base: str, incident, operator, phones: int) -> dict:
    from apps.briefings.models import Delivery
    from tests.helpers import api_client

    api = api_client(operator)
    fake(base, "/_reset")
    t0 = time.monotonic()
    response = api.post("/api/v1/briefings", {**PAYLOAD, "incident": str(incident.pk)}, format="json")
    t_response = time.monotonic() - t0
    assert response.status_code == 201, response.content
    assert response.json()["recipients"] == phones, response.json()
    stats = wait_accepted(base, phones)
    elapsed = stats["last_at"] - t0
    # every row recorded as sent (the worker records each batch right after sending it)
    deadline = time.monotonic() + 60
    while Delivery.objects.filter(briefing_id=response.json()["id"], state="sent").count() < phones:
        if time.monotonic() > deadline:
            raise SystemExit("not every delivery was recorded as sent")
        time.sleep(0.1)
    recorded = time.monotonic() - t0
    return {
        "elapsed": elapsed,
        "rate": phones / elapsed,
        "post_s": t_response,
        "recorded_s": recorded,
        "accepted": stats["counts"]["accepted"],
    }


def warm_up(base: str, operator) -> None:
    """One small briefing first (not timed): the worker's connections and FCM access token are
    ready, as in a process that has been running. The baseline gets the same below."""
    from apps.accounts.models import User
    from tests.helpers import api_client

    officers = [
        str(pk)
        for pk in User.objects.filter(username__startswith="bench-officer-")
        .order_by("username")
        .values_list("pk", flat=True)[:20]
    ]
    response = api_client(operator).post(
        "/api/v1/briefings", {**PAYLOAD, "audience": {"officers": officers}}, format="json"
    )
    assert response.status_code == 201, response.content
    wait_accepted(base, len(officers))


def run_baseline(base: str, tokens: list[str]) -> dict:
    import firebase_admin
    from firebase_admin import credentials, messaging
    from push_notifications.models import GCMDevice

    from apps.briefings import notification
    from apps.briefings.models import Briefing
    from apps.integrations.push import FcmBackend

    if firebase_admin._DEFAULT_APP_NAME not in firebase_admin._apps:
        app = firebase_admin.initialize_app(credentials.Certificate(os.environ["GOOGLE_APPLICATION_CREDENTIALS"]))
        service = messaging._get_messaging_service(app)
        service._fcm_url = f"{base}/v1/projects/{app.project_id}/messages:send"  # the URL only
    briefing = Briefing(
        id=uuid.uuid4(),
        priority="urgent",
        title=PAYLOAD["title"],
        suspects=PAYLOAD["suspects"],
        vehicles=PAYLOAD["vehicles"],
    )
    message = FcmBackend.to_fcm(notification.message_for(briefing))  # the very message rtcc sends
    fake(base, "/_reset")
    GCMDevice.objects.filter(registration_id__in=tokens[:20]).send_message(message)  # warm-up, not timed
    wait_accepted(base, 20)
    fake(base, "/_reset")
    t0 = time.monotonic()
    response = GCMDevice.objects.filter(active=True, cloud_message_type="FCM").send_message(message)
    stats = wait_accepted(base, len(tokens))
    elapsed = stats["last_at"] - t0
    return {
        "elapsed": elapsed,
        "rate": len(tokens) / elapsed,
        "accepted": stats["counts"]["accepted"],
        "ok": response.success_count,
    }


def start_worker(env: dict, concurrency: int, pool: str) -> launch.Process:
    worker_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "rtcc.settings"}
    try:
        return launch.start_celery_worker(
            env=worker_env,
            log=WORKDIR / "celery-worker.log",
            pool=pool,
            concurrency=concurrency,
            loglevel="INFO",
            settle=4,  # boot: Django, the pool, the broker connection
        )
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=10_000)
    parser.add_argument(
        "--worker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send from a real celery worker on Redis (default: when Redis answers)",
    )
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--pool",
        default="prefork",
        choices=["threads", "prefork"],
        help="worker pool: threads share one process's FCM connections and overlap DB and HTTP",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each side (the best of each is compared, all are printed)"
    )
    args = parser.parse_args()
    use_worker = answers(REDIS_URL) if args.worker is None else args.worker

    ensure_database()
    fake_process, base, credentials = start_fake()
    env = {
        "DJANGO_SETTINGS_MODULE": "briefing_push_settings",
        "DATABASE_URL": DB_URL,
        "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
        "RTCC_FCM_ENDPOINT": base,
        "RTCC_DATA_DIR": str(WORKDIR / "data"),
        "DJANGO_SECRET_KEY": "bench-" + "x" * 40,
        "RTCC_EMBEDDED_BEAT": "false",
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
    }
    if use_worker:
        env["REDIS_URL"] = REDIS_URL
    worker = None
    try:
        setup_django(env)
        if use_worker:
            subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], capture_output=True, check=False)
            from rtcc.celery import app

            app.conf.task_always_eager = False
            worker = start_worker(env, args.concurrency, args.pool)
        incident, operator, tokens = ensure_fleet(args.phones)
        where = (
            f"a celery worker ({args.pool}, concurrency {args.concurrency}) on Redis"
            if use_worker
            else "this process (tasks eager)"
        )
        print(f"{len(tokens)} phones; rtcc sends from {where}", flush=True)
        warm_up(base, operator)
        runs, base_runs = [], []
        for n in range(args.rounds):  # the two sides take turns, so both see the same machine
            if os.environ.get("BENCH_PROFILE"):
                import cProfile

                cProfile.runctx(
                    "run_rtcc(base, incident, operator, len(tokens))", globals(), locals(), os.environ["BENCH_PROFILE"]
                )
            result = run_rtcc(base, incident, operator, len(tokens))
            runs.append(result)
            print(
                f"  rtcc run {n + 1}: {result['elapsed']:.2f} s to the last accepted message, "
                f"{result['rate']:.0f} msg/s (POST answered in {result['post_s']:.2f} s, "
                f"all rows sent after {result['recorded_s']:.2f} s)",
                flush=True,
            )
            base_runs.append(run_baseline(base, tokens))
            print(
                f"  django-push-notifications run {n + 1}: {base_runs[-1]['elapsed']:.2f} s, "
                f"{base_runs[-1]['rate']:.0f} msg/s ({base_runs[-1]['ok']} ok)",
                flush=True,
            )
        best = max(runs, key=lambda r: r["rate"])
        base_result = max(base_runs, key=lambda r: r["rate"])
        ratio = best["rate"] / base_result["rate"]
        print(
            json.dumps(
                {
                    "phones": len(tokens),
                    "mode": "worker" if use_worker else "eager",
                    "rtcc_seconds": round(best["elapsed"], 3),
                    "rtcc_msg_per_s": round(best["rate"]),
                    "baseline_seconds": round(base_result["elapsed"], 3),
                    "baseline_msg_per_s": round(base_result["rate"]),
                    "ratio": round(ratio, 2),
                }
            )
        )
        print(
            f"rtcc: {best['rate']:.0f} msg/s vs django-push-notifications {base_result['rate']:.0f} msg/s "
            f"-> {ratio:.2f}x (goal: >= 3x and >= 2,000 msg/s: "
            f"{'met' if ratio >= 3 and best['rate'] >= 2000 else 'NOT met'})"
        )
    finally:
        if worker is not None:
            worker.stop(timeout=20)
        fake_process.stop(timeout=10)
    shutil.rmtree(WORKDIR, ignore_errors=True)  # kept (logs) when the run failed


if __name__ == "__main__":
    main()
