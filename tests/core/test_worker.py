"""`celery -A rtcc worker` with REDIS_URL set: a real worker process runs queued tasks."""

import os
import subprocess
import sys
import threading
import time

import pytest

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from tests.helpers import ROOT, start_worker


@pytest.fixture
def worker(transactional_db, redis_url, tmp_path):
    process = start_worker(log=tmp_path / "worker.log", pool="solo", concurrency=1)
    yield process
    process.stop()


def test_a_worker_process_runs_a_queued_task(worker):
    from apps.audit.tasks import audit_verify
    from rtcc.celery import app

    audit_record(action="test.before")
    app.conf.task_always_eager = False
    try:
        audit_verify.delay()
    finally:
        app.conf.task_always_eager = True
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not AuditEvent.objects.filter(action="audit.verified").exists():
        time.sleep(0.2)
    event = AuditEvent.objects.get(action="audit.verified")
    assert event.outcome == "success" and event.details["checked"] == 1


def test_beat_schedule_lists_periodic_tasks():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["rtcc-core-audit-verify"]["task"] == "apps.core.tasks.audit_verify"


def test_the_worker_log_shows_celerys_own_lines_at_info(redis_url):
    """Operators read the worker's log: at --loglevel=INFO Celery's own lines (its task list,
    `ready`) are there, not quieted by the project's logging."""
    env = {**os.environ, "REDIS_URL": redis_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "rtcc", "worker", "--pool", "solo", "--loglevel=INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if " ready." in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        ready.wait(timeout=60)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    assert any(" ready." in line and "celery@" in line for line in lines), "".join(lines[-40:])


def test_the_worker_logs_the_id_of_the_request_that_queued_the_task(transactional_db, redis_url, tmp_path):
    """A line the worker writes for a task carries the id of the request that queued it (as the
    contract says): Celery replaced the project's log handler with its own, and no worker line
    carried an id."""
    from apps.audit.tasks import audit_verify
    from apps.core import requestids
    from rtcc.celery import app

    log = tmp_path / "worker.log"
    process = start_worker(log=log, pool="solo", concurrency=1, loglevel="INFO")
    token = requestids.current.set("req-worker-7")
    app.conf.task_always_eager = False
    try:
        audit_verify.delay()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "succeeded" not in log.read_text():
            time.sleep(0.2)
    finally:
        app.conf.task_always_eager = True
        requestids.current.reset(token)
        process.stop()
    [line] = [line for line in log.read_text().splitlines() if "audit_verify" in line and "succeeded" in line]
    assert "[req-worker-7] " in line
