"""The audit trail is append-only and hash-chained: tampering is detected and named."""

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.audit.models import AppendOnly, AuditEvent
from apps.audit.selectors import audit_verify_chain
from apps.audit.services import audit_record


@pytest.fixture
def trail(db, operator):
    return [
        audit_record(
            action=f"test.step{i}", actor=operator, object_type="thing", object_id=i, details={"n": i, "note": "séance"}
        )
        for i in range(1, 6)
    ]


def raw(sql, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_events_link_to_the_one_before(trail):
    assert trail[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(trail):
        assert after.prev_hash == before.hash and after.seq == before.seq + 1
    verdict = audit_verify_chain()
    assert verdict.ok and verdict.checked == 5


def test_verify_audit_command_reports_an_intact_trail(trail, capsys):
    call_command("verify_audit")
    assert "5 events verified" in capsys.readouterr().out


def test_a_changed_row_is_detected_and_named(trail):
    raw("UPDATE audit_auditevent SET details = %s WHERE seq = 3", '{"n": 99, "note": "séance"}')
    with pytest.raises(CommandError):
        call_command("verify_audit")
    problems = audit_verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(3, "changed")]
    assert "#3" in problems[0].message


def test_a_changed_actor_is_detected(trail):
    raw("UPDATE audit_auditevent SET actor_label = 'someone-else' WHERE seq = 2")
    assert [(p.seq, p.kind) for p in audit_verify_chain().problems] == [(2, "changed")]


def test_a_deleted_row_is_detected_and_named(trail):
    raw("DELETE FROM audit_auditevent WHERE seq = 4")
    problems = audit_verify_chain().problems
    assert problems and problems[0].seq == 4 and problems[0].kind == "deleted"


def test_rows_cut_from_the_end_are_detected(trail):
    raw("DELETE FROM audit_auditevent WHERE seq >= 4")
    problems = audit_verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(4, "truncated")]


def test_a_rewritten_chain_tail_is_detected(trail):
    # Recomputing one row's own hash is not enough: the next row no longer links to it.
    event = AuditEvent.objects.get(seq=2)
    event.details = {"n": 2, "note": "forged"}
    new_hash = event.compute_hash()
    raw("UPDATE audit_auditevent SET details = %s, hash = %s WHERE seq = 2", '{"n": 2, "note": "forged"}', new_hash)
    problems = audit_verify_chain().problems
    assert [(p.seq, p.kind) for p in problems] == [(2, "changed")]  # the row that was changed is named
    assert problems[0].message.startswith("event #2 was changed")


def test_the_orm_cannot_change_or_delete_events(trail):
    event = AuditEvent.objects.get(seq=1)
    event.action = "something.else"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(seq=1).update(action="x")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 5 and audit_verify_chain().ok


def test_admin_cannot_change_events(admin_client, trail):
    event = AuditEvent.objects.get(seq=1)
    assert admin_client.get("/admin/audit/auditevent/").status_code == 200
    response = admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AuditEvent.objects.count() == 5


def test_an_event_with_an_empty_client_address_verifies_as_written(db):
    # A request whose client address is empty (a unix socket, an in-process client) is stored
    # with no address; the hash must be over what is stored, not over the empty string.
    event = audit_record(action="test.no-address", source_ip="")
    assert AuditEvent.objects.get(pk=event.pk).source_ip is None
    verdict = audit_verify_chain()
    assert verdict.ok, [p.message for p in verdict.problems]
