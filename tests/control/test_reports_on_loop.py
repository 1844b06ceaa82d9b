"""A device's ack and result written from the event loop (apps/control/delivery.py), against the
real PostgreSQL and Redis: one statement each stores the transition, its audit event and the
officer's notices, exactly what the ORM functions would; what it does not move goes to them."""

from __future__ import annotations

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify_chain
from apps.control import delivery, services
from apps.control.models import Command, CommandNotice
from apps.core import aiodb
from apps.core.realtime import CONSOLE_GROUP
from tests.control.conftest import create_device, run

pytestmark = pytest.mark.django_db(transaction=True)  # the loop's own connection sees committed rows only


@pytest.fixture
def services_up(postgres_db, redis_url):
    return None


def new_command(camera, operator, **fields) -> Command:
    command, _ = services.command_create(
        device=camera.device,
        requested_by=operator,
        action=fields.get("action", "start_recording"),
        reason=fields.get("reason", "Shots fired"),
        ttl_seconds=120,
    )
    return command


def on_loop(statement):
    async def scenario():
        try:
            return await aiodb.fetchone(*statement)
        finally:
            await aiodb.close_all()

    return run(scenario)


def test_an_ack_and_a_success_are_stored_audited_and_shown_as_the_orm_would(services_up, operator, officer):
    camera = create_device(kind="bodycam", officer=officer, label="Cam 3")
    command = new_command(camera, operator)
    frame = {"command_id": str(command.pk)}

    async def scenario():
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)  # a listener of its own (see fast path tests)
        console = await layer.new_channel()
        await layer.group_add(CONSOLE_GROUP, console)
        try:
            acked = await delivery.command_ack(camera.device, {"type": "ack", **frame})
            delivered = await layer.receive(console)
            done = await delivery.command_result(camera.device, {"type": "result", **frame, "ok": True})
            succeeded = await layer.receive(console)
        finally:
            await aiodb.close_all()
        return acked, delivered, done, succeeded

    acked, delivered, done, succeeded = run(scenario)
    assert acked is None and done is None
    assert delivered["event"]["command"]["state"] == "delivered"
    assert succeeded["event"]["command"]["state"] == "succeeded"
    stored = Command.objects.get(pk=command.pk)
    assert stored.state == "succeeded" and stored.error == ""
    assert stored.sent_at is not None and stored.delivered_at is not None and stored.finished_at is not None
    assert succeeded["event"]["command"]["finished_at"] is not None
    events = {e.action: e for e in AuditEvent.objects.filter(object_type="command", object_id=str(command.pk))}
    base = {"device": camera.id, "action": "start_recording", "reason": "Shots fired"}
    assert events["command.delivered"].details == {**base, "state": "delivered"}
    assert events["command.succeeded"].details == {**base, "state": "succeeded", "ok": True, "error": ""}
    assert (events["command.succeeded"].actor_type, events["command.succeeded"].actor_id) == ("device", camera.id)
    assert events["command.succeeded"].actor_label == camera.device.audit_label
    verdict = audit_verify_chain()  # chains the waiting events first, then checks every link
    assert verdict.ok, verdict.problems


def test_a_statement_moves_its_command_once_and_only_for_its_own_device(services_up, operator):
    camera, other = create_device(kind="bodycam"), create_device(kind="bodycam")
    command = new_command(camera, operator)

    assert on_loop(services.command_ack_statement(command_id=command.pk, device=other.device)) is None
    row = on_loop(services.command_ack_statement(command_id=command.pk, device=camera.device))
    moved, notices = services.report_row(row)
    assert (moved.pk, moved.state, notices) == (command.pk, "delivered", 0)
    assert on_loop(services.command_ack_statement(command_id=command.pk, device=camera.device)) is None
    assert AuditEvent.objects.filter(action="command.delivered", object_id=str(command.pk)).count() == 1
    assert Command.objects.get(pk=command.pk).state == "delivered"


def test_a_success_stores_a_notice_for_each_reachable_phone_of_the_officer_in_the_same_statement(
    services_up, operator, officer, other_officer
):
    camera = create_device(kind="bodycam", officer=officer)
    phones = [create_device(kind="phone", officer=officer, push_token=f"fcm-token-{n}") for n in range(2)]
    create_device(kind="phone", officer=officer, push_token="fcm-token-revoked", revoked=True)
    create_device(kind="phone", officer=officer)  # no push token
    create_device(kind="phone", officer=other_officer, push_token="fcm-token-other")
    command = new_command(camera, operator)

    row = on_loop(services.command_result_statement(command_id=command.pk, device=camera.device, ok=True))
    moved, notices = services.report_row(row)
    assert (moved.state, notices) == ("succeeded", 2)
    stored = CommandNotice.objects.filter(command=command)
    assert {n.phone_id for n in stored} == {p.device.pk for p in phones}
    assert {(n.state, n.attempts) for n in stored} == {("queued", 0)}


def test_a_failure_keeps_its_error_and_tells_no_officer(services_up, operator, officer):
    camera = create_device(kind="bodycam", officer=officer)
    create_device(kind="phone", officer=officer, push_token="fcm-token-1")
    command = new_command(camera, operator)

    row = on_loop(
        services.command_result_statement(command_id=command.pk, device=camera.device, ok=False, error="Card full")
    )
    moved, notices = services.report_row(row)
    assert (moved.state, moved.error, notices) == ("failed", "Card full", 0)
    assert not CommandNotice.objects.filter(command=command).exists()
    event = AuditEvent.objects.get(action="command.failed", object_id=str(command.pk))
    assert event.details["ok"] is False and event.details["error"] == "Card full"


def test_reports_the_statement_does_not_move_are_answered_as_before(services_up, operator):
    camera = create_device(kind="bodycam")
    command = new_command(camera, operator)
    services.command_cancel(command=command, user=operator)

    async def scenario():
        try:
            late = await delivery.command_ack(camera.device, {"type": "ack", "command_id": str(command.pk)})
            unknown = await delivery.command_ack(camera.device, {"type": "ack", "command_id": str(camera.device.pk)})
        finally:
            await aiodb.close_all()
        return late, unknown

    late, unknown = run(scenario)
    assert late is None and unknown == delivery.UNKNOWN_COMMAND
    assert Command.objects.get(pk=command.pk).state == "cancelled"
    assert AuditEvent.objects.filter(action="command.late_ack", object_id=str(command.pk)).count() == 1


def test_a_fast_send_is_recorded_once_as_sent_and_each_resend_only_counted(services_up, operator):
    camera = create_device(kind="bodycam")
    command = new_command(camera, operator)

    first = services.report_row(
        on_loop(services.command_fast_send_statement(command_id=str(command.pk), device=camera.device))
    )
    again = services.report_row(
        on_loop(services.command_fast_send_statement(command_id=str(command.pk), device=camera.device))
    )
    assert (first[0].state, first[0].send_count, first[1]) == ("sent", 1, True)
    assert (again[0].state, again[0].send_count, again[1]) == ("sent", 2, False)
    assert again[0].sent_at == first[0].sent_at and again[0].last_sent_at > first[0].last_sent_at
    events = AuditEvent.objects.filter(action="command.sent", object_id=str(command.pk))
    assert [(e.actor_id, e.details["state"]) for e in events] == [(camera.id, "sent")]


def test_a_fast_send_after_a_cancel_is_recorded_and_the_command_stays_cancelled(services_up, operator):
    camera = create_device(kind="bodycam")
    command = new_command(camera, operator)
    services.command_cancel(command=command, user=operator)

    sent, first = services.report_row(
        on_loop(services.command_fast_send_statement(command_id=str(command.pk), device=camera.device))
    )
    assert (sent.state, sent.send_count, first) == ("cancelled", 1, True)  # the frame did go out: on record
    assert AuditEvent.objects.filter(action="command.sent", object_id=str(command.pk)).count() == 1
    other = create_device(kind="bodycam")
    assert on_loop(services.command_fast_send_statement(command_id=str(command.pk), device=other.device)) is None
