"""The worker's and beat's heartbeats: /readyz (and so the console) says when either is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT, database_url_for_subprocess


@pytest.mark.django_db
def test_embedded_default_reports_worker_and_beat_as_running(anon, settings):
    settings.CELERY_BROKER_URL = "memory://"
    body = anon.get("/readyz").json()
    assert body["checks"]["worker"] == "ok" and body["checks"]["beat"] == "ok"


def _clear_heartbeats() -> None:
    from apps.core import heartbeat

    client = heartbeat.client(heartbeat.redis_url())
    client.delete(
        *(key.format(role=role) for role in heartbeat.ROLES for key in (heartbeat.KEY, heartbeat.STOPPED_KEY))
    )


def _readyz(client) -> dict:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content  # the web process itself is ready
    return response.json()


def _wait_for(client, role: str, expected_ok: bool, timeout: float = 45) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = _readyz(client)
        if (body["checks"][role] == "ok") == expected_ok or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def _celery(*args) -> subprocess.Popen:
    from django.conf import settings

    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "DJANGO_SECRET_KEY": settings.SECRET_KEY}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "rtcc", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_readyz_reports_a_missing_worker_and_beat_and_sees_them_come_and_go(
    transactional_db, redis_url, anon, tmp_path
):
    _clear_heartbeats()
    body = _readyz(anon)
    assert body["status"] == "degraded"
    assert body["checks"]["worker"].startswith("error: no worker heartbeat")
    assert body["checks"]["beat"].startswith("error: no beat heartbeat")
    assert set(body["missing"]) == {"worker", "beat"}

    worker = _celery("worker", "--pool", "solo", "--loglevel", "WARNING", "--without-gossip", "--without-mingle")
    beat = _celery("beat", "--loglevel", "WARNING", "--schedule", str(tmp_path / "schedule"))
    try:
        body = _wait_for(anon, "worker", True)
        assert body["checks"]["worker"] == "ok", body
        body = _wait_for(anon, "beat", True)
        assert body["checks"]["beat"] == "ok", body
        assert body["status"] == "ok"
    finally:
        _stop(worker)
        _stop(beat)
    # Stopped: gone at once (a crashed one is gone after RTCC_HEARTBEAT_MAX_AGE), and said to be stopped.
    body = _readyz(anon)
    assert re.fullmatch(r"error: no worker heartbeat \(stopped \d+ s ago\)", body["checks"]["worker"]), body
    assert re.fullmatch(r"error: no beat heartbeat \(stopped \d+ s ago\)", body["checks"]["beat"]), body
    assert body["status"] == "degraded"


@pytest.mark.django_db
def test_readyz_tells_a_process_stopped_cleanly_from_one_that_died_or_never_came(redis_url, anon):
    """A cleanly stopped worker read "never seen", as if REDIS_URL named another Redis, while one
    killed with -9 read "last seen 31 s ago": the stop's time is kept, and said."""
    from apps.core import heartbeat

    _clear_heartbeats()
    assert _readyz(anon)["checks"]["worker"] == "error: no worker heartbeat (never seen)"
    heartbeat.beat("worker", "worker@test:1")
    assert _readyz(anon)["checks"]["worker"] == "ok"
    heartbeat.forget("worker", "worker@test:1")
    body = _readyz(anon)
    assert body["checks"]["worker"] == "error: no worker heartbeat (stopped 0 s ago)", body
    assert body["status"] == "degraded" and "worker" in body["missing"]  # still not running
    # One that died after the clean stop: its last beat is the latest news.
    client = heartbeat.client(heartbeat.redis_url())
    client.zadd(heartbeat.KEY.format(role="worker"), {"worker@test:2": time.time() - heartbeat.max_age() - 11})
    assert _readyz(anon)["checks"]["worker"] == "error: no worker heartbeat (stopped 0 s ago)"
    client.zadd(heartbeat.STOPPED_KEY.format(role="worker"), {"worker@test:1": time.time() - 3600})
    assert re.fullmatch(r"error: no worker heartbeat \(last seen 3\d s ago\)", _readyz(anon)["checks"]["worker"])
    # Running again: ok, whatever stopped before.
    heartbeat.beat("worker", "worker@test:3")
    assert _readyz(anon)["checks"]["worker"] == "ok"
    _clear_heartbeats()
