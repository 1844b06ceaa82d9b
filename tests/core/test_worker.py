"""`celery -A rtcc worker` with REDIS_URL set: a real worker process runs queued tasks."""

import time

import pytest

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from tests.helpers import start_worker


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
