"""The worker's and beat's heartbeats: /readyz (and so the console) says when either is missing."""

from __future__ import annotations

import os
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
    client.delete(*(heartbeat.KEY.format(role=role) for role in heartbeat.ROLES))


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
    # Stopped: gone at once (a crashed one is gone after RTCC_HEARTBEAT_MAX_AGE).
    body = _readyz(anon)
    assert body["checks"]["worker"].startswith("error: no worker heartbeat"), body
    assert body["checks"]["beat"].startswith("error: no beat heartbeat")
    assert body["status"] == "degraded"
