"""Appends that find the chain head taken are stored at once and chained a moment after their
commit, several to one head update: the chain stays one unbroken, verifiable line, and tampering shows."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from apps.audit.models import AuditEvent, AuditHead
from apps.audit.selectors import audit_verify_chain
from apps.audit.services import audit_record, audit_record_many, audit_seal_pending
from tests.helpers import database_url_for_subprocess, transaction_held_open

ROOT = Path(__file__).resolve().parents[2]

APPENDER = textwrap.dedent(
    """
    import os, sys, django
    sys.path.insert(0, {root!r})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc.settings")
    django.setup()
    from django.db import transaction
    from apps.audit.services import audit_record
    name = sys.argv[1]
    for n in range(int(sys.argv[2])):
        with transaction.atomic():
            audit_record(action="test.concurrent", object_type="thing", object_id=name, details={{"n": n}})
    """
)


def raw(sql, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_processes_appending_at_once_leave_one_intact_chain(postgres_db, tmp_path):
    script = tmp_path / "append.py"
    script.write_text(APPENDER.format(root=str(ROOT)))
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "RTCC_EMBEDDED_BEAT": "false"}
    procs = [
        subprocess.Popen([sys.executable, str(script), name, "150"], env=env, cwd=ROOT, stderr=subprocess.PIPE)
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]

    audit_seal_pending()  # the last ones may still be within their seal interval
    events = list(AuditEvent.objects.filter(action="test.concurrent").order_by("seq"))
    assert len(events) == 300
    assert all(event.seq is not None for event in events)
    for name in ("a", "b"):  # each process's events keep its order
        ns = [e.details["n"] for e in events if e.object_id == name]
        assert ns == list(range(150))
    verdict = audit_verify_chain()
    assert verdict.ok, [p.message for p in verdict.problems]
    assert verdict.checked == AuditEvent.objects.count()
    head = AuditHead.objects.get(id=1)
    last = AuditEvent.objects.order_by("-seq").first()
    assert (head.seq, head.hash) == (last.seq, last.hash)

    # A row edited afterwards, even deep inside a batch, is still named.
    victim = events[150]
    raw(f"UPDATE {AuditEvent._meta.db_table} SET details = %s WHERE seq = %s", '{"n": 9999}', victim.seq)
    problems = audit_verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(victim.seq, "changed")]
    with pytest.raises(CommandError):
        call_command("verify_audit")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_append_that_finds_the_head_taken_commits_at_once_and_is_chained_once_the_head_is_free(postgres_db):
    audit_record(action="test.first")
    # The holder takes the chain head until its transaction commits.
    with transaction_held_open(lambda: audit_record(action="test.holder")):
        with transaction.atomic():
            event = audit_record(action="test.waiting", object_type="thing", object_id="w")
            # stored in the caller's transaction without waiting for the head
            assert event.seq is None
        # committed (durable) while the head is still taken: not yet in the chain
        assert AuditEvent.objects.get(action="test.waiting").seq is None
    # the sealer thread chains it, after the holder, without anyone else appending
    for _ in range(100):
        waiting = AuditEvent.objects.get(action="test.waiting")
        if waiting.seq is not None:
            break
        time.sleep(0.1)
    holder_event = AuditEvent.objects.get(action="test.holder")
    assert waiting.seq == holder_event.seq + 1 and waiting.prev_hash == holder_event.hash
    verdict = audit_verify_chain()
    assert verdict.ok and verdict.checked == 3


@pytest.mark.django_db(transaction=True)
def test_several_events_appended_at_once_are_chained_in_their_order(operator):
    """A page of leads read is one event per lead, appended together: one link each, in order,
    after what came before; with the head taken, stored at once and chained after it."""
    audit_record(action="test.first")
    events = audit_record_many([{"action": "test.many", "object_type": "thing", "object_id": n} for n in range(5)])
    assert [e.seq for e in events] == [2, 3, 4, 5, 6]
    stored = list(AuditEvent.objects.filter(action="test.many").order_by("seq"))
    assert [e.object_id for e in stored] == ["0", "1", "2", "3", "4"]
    assert stored[0].prev_hash == AuditEvent.objects.get(action="test.first").hash
    assert AuditHead.objects.get(id=1).seq == 6
    verdict = audit_verify_chain()
    assert verdict.ok and verdict.checked == 6, [p.message for p in verdict.problems]
    if connection.vendor != "postgresql":
        return
    with transaction_held_open(lambda: audit_record(action="test.holder")):
        waiting = audit_record_many([{"action": "test.later", "object_id": n} for n in range(3)])
        assert [e.seq for e in waiting] == [None, None, None]
    for _ in range(100):
        if not AuditEvent.objects.filter(seq__isnull=True).exists():
            break
        time.sleep(0.1)
    later = list(AuditEvent.objects.filter(action="test.later").order_by("seq"))
    assert [e.object_id for e in later] == ["0", "1", "2"] and later[0].seq == 8
    verdict = audit_verify_chain()
    assert verdict.ok and verdict.checked == 10, [p.message for p in verdict.problems]


@pytest.mark.django_db(transaction=True)
def test_an_event_left_waiting_by_a_crash_is_chained_by_the_next_verification(operator):
    audit_record(action="test.one", actor=operator)
    # what a process leaves behind when it dies between its commit and the seal
    AuditEvent(
        at=AuditEvent.objects.get().at,
        actor_type="system",
        action="test.orphan",
        prev_hash="",
        hash="",
    ).save()
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 1
    verdict = audit_verify_chain()
    assert verdict.ok and verdict.checked == 2
    orphan = AuditEvent.objects.get(action="test.orphan")
    assert orphan.seq == 2 and orphan.hash == orphan.compute_hash()
    call_command("verify_audit")


@pytest.mark.django_db(transaction=True)
def test_a_waiting_event_tampered_before_or_after_sealing_cannot_pass_as_intact(operator):
    audit_record(action="test.one", actor=operator)
    AuditEvent(at=AuditEvent.objects.get().at, actor_type="system", action="test.late", prev_hash="", hash="").save()
    audit_seal_pending()
    late = AuditEvent.objects.get(action="test.late")
    raw(f"UPDATE {AuditEvent._meta.db_table} SET action = %s WHERE seq = %s", "test.innocent", late.seq)
    assert [(p.seq, p.kind) for p in audit_verify_chain().problems] == [(late.seq, "changed")]
