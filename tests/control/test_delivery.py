"""Command delivery over the device websocket (in-process): live, on connect, expiry, re-send, reports."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.control import services
from apps.control.models import Command
from apps.core.realtime import device_group
from apps.devices import presence
from rtcc.routing import websocket
from tests.control.conftest import SOCKET_WAIT, audit_actions, connected, post_command, receive, run

pytestmark = pytest.mark.django_db(transaction=True)

DEVICE_FRAME_KEYS = {"id", "action", "reason", "issued_at", "expires_at"}


@database_sync_to_async
def state_of(command_id) -> str:
    return Command.objects.get(pk=command_id).state


async def wait_state(command_id, state: str, timeout: float = SOCKET_WAIT) -> Command:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await state_of(command_id)
        if current == state:
            return await database_sync_to_async(Command.objects.get)(pk=command_id)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"command {command_id} is {current}, expected {state}")
        await asyncio.sleep(0.02)


async def connect(fleet_device) -> WebsocketCommunicator:
    return await connected("/ws/device/", fleet_device.auth)


def create(device, operator, *, action="start_recording", reason="Test", ttl=120) -> Command:
    command, _ = services.command_create(
        device=device.device, requested_by=operator, action=action, reason=reason, ttl_seconds=ttl
    )
    return command


def test_live_command_reaches_the_connected_device_and_runs_to_success(client_for, operator, bodycam):
    client = client_for(operator)

    async def scenario():
        device = await connect(bodycam)
        response = await database_sync_to_async(post_command)(client, bodycam.id, reason="Foot pursuit")
        assert response.status_code == 202
        command_id = response.json()["id"]
        frame = await receive(device)
        assert frame["type"] == "command"
        assert set(frame["command"]) == DEVICE_FRAME_KEYS
        assert frame["command"]["id"] == command_id
        assert frame["command"]["action"] == "start_recording"
        assert frame["command"]["reason"] == "Foot pursuit"
        await wait_state(command_id, "sent")
        await device.send_json_to({"type": "ack", "command_id": command_id})
        await wait_state(command_id, "delivered")
        await device.send_json_to({"type": "result", "command_id": command_id, "ok": True})
        command = await wait_state(command_id, "succeeded")
        assert command.sent_at <= command.delivered_at <= command.finished_at
        assert command.error == ""
        assert await device.receive_nothing(0.1)
        await device.disconnect()
        return command_id

    command_id = run(scenario)
    assert audit_actions(command_id) == ["command.create", "command.sent", "command.delivered", "command.succeeded"]
    succeeded = AuditEvent.objects.get(object_id=command_id, action="command.succeeded")
    assert succeeded.actor_type == "device" and succeeded.actor_id == bodycam.id
    assert succeeded.details["reason"] == "Foot pursuit" and succeeded.details["device"] == bodycam.id
    body = client.get(f"/api/v1/commands/{command_id}").json()
    assert body["state"] == "succeeded" and body["send_count"] == 1


def test_offline_device_gets_unfinished_unexpired_commands_on_connect_oldest_first(operator, bodycam):
    first = create(bodycam, operator, reason="first")
    cancelled = create(bodycam, operator, reason="cancelled")
    services.command_cancel(command=cancelled, user=operator)
    expired = create(bodycam, operator, reason="expired")
    Command.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    done = create(bodycam, operator, reason="done")
    services.command_result(command_id=done.pk, device=bodycam.device, ok=True)
    second = create(bodycam, operator, action="stop_recording", reason="second")
    # A time-ordering tie would be ambiguous: make creation order explicit.
    base = timezone.now() - timedelta(seconds=10)
    Command.objects.filter(pk=first.pk).update(created_at=base)
    Command.objects.filter(pk=second.pk).update(created_at=base + timedelta(seconds=1))

    async def scenario():
        device = await connect(bodycam)
        frames = [await receive(device), await receive(device)]
        assert await device.receive_nothing(0.2)
        await device.disconnect()
        return frames

    frames = run(scenario)
    assert [frame["command"]["id"] for frame in frames] == [str(first.pk), str(second.pk)]
    assert [frame["command"]["reason"] for frame in frames] == ["first", "second"]
    assert Command.objects.get(pk=first.pk).state == "sent"
    assert Command.objects.get(pk=cancelled.pk).state == "cancelled"
    assert Command.objects.get(pk=expired.pk).state in ("queued", "expired")  # never sent either way
    assert Command.objects.get(pk=expired.pk).sent_at is None


def test_expired_commands_are_never_delivered(operator, bodycam):
    command = create(bodycam, operator, ttl=5)
    Command.objects.filter(pk=command.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.command_expire_due() == {"expired": 1, "failed_without_result": 0}
    command.refresh_from_db()
    assert command.state == "expired" and command.finished_at is not None
    assert audit_actions(command.pk) == ["command.create", "command.expired"]
    assert services.command_expire_due()["expired"] == 0  # idempotent

    async def scenario():
        device = await connect(bodycam)
        assert await device.receive_nothing(0.2)
        await device.disconnect()

    run(scenario)
    assert Command.objects.get(pk=command.pk).sent_at is None


def test_consumer_refuses_a_command_past_its_expiry_before_the_sweep_ran(operator, bodycam):
    command = create(bodycam, operator)
    payload = command.device_payload()

    async def scenario():
        device = await connect(bodycam)
        assert (await receive(device))["command"]["id"] == str(command.pk)  # the live copy on connect
        await database_sync_to_async(services.command_cancel)(command=command, user=operator)
        # A command already past its expiry whose sweep has not run yet (a row only: creating it
        # through the service would also send it at once, racing the expiry this test is about).
        late = await database_sync_to_async(Command.objects.create)(
            device=bodycam.device,
            requested_by=operator,
            action="start_recording",
            reason="Late",
            ttl_seconds=120,
            created_at=timezone.now() - timedelta(seconds=121),
            expires_at=timezone.now() - timedelta(seconds=1),
        )
        # The group events arrive anyway (e.g. a slow layer): neither goes out.
        layer = get_channel_layer()
        await layer.group_send(device_group(bodycam.id), {"type": "device.command", "command": payload})
        await layer.group_send(device_group(bodycam.id), {"type": "device.command", "command": late.device_payload()})
        assert await device.receive_nothing(0.3)
        await device.disconnect()
        return late

    late = run(scenario)
    assert Command.objects.get(pk=command.pk).state == "cancelled"
    late.refresh_from_db()
    assert late.state == "expired" and late.sent_at is None


def test_a_creation_message_read_after_the_cancel_never_sends_the_command(operator, bodycam):
    # The group message of a fresh command reaches the socket only after an operator cancelled
    # it (a slow layer): the consumer's claim (in Redis when the layer is Redis, claims.py) must
    # lose to the cancel, and the device hears nothing.
    command = create(bodycam, operator)  # nobody is connected: its own group message is lost
    services.command_cancel(command=command, user=operator)

    async def scenario():
        device = await connect(bodycam)  # the backlog on connect has nothing for it
        layer = get_channel_layer()
        await layer.group_send(
            device_group(bodycam.id), {"type": "device.command", "command": command.device_payload()}
        )
        assert await device.receive_nothing(0.5)
        await device.disconnect()

    run(scenario)
    command.refresh_from_db()
    assert command.state == "cancelled" and command.sent_at is None and command.send_count == 0
    assert "command.sent" not in audit_actions(command.pk)


def test_a_fresh_command_sent_twice_over_the_group_is_recorded_as_sent_once(operator, bodycam):
    async def scenario():
        device = await connect(bodycam)
        command = await database_sync_to_async(create)(bodycam, operator)
        frame = await receive(device)
        assert frame["command"]["id"] == str(command.pk)
        await wait_state(str(command.pk), "sent")
        # The same group message again (the resend sweep, a replayed message): not sent twice on
        # this socket, not recorded as a second first send.
        layer = get_channel_layer()
        await layer.group_send(
            device_group(bodycam.id), {"type": "device.command", "command": command.device_payload()}
        )
        assert await device.receive_nothing(0.3)
        await device.disconnect()
        return command

    command = run(scenario)
    command.refresh_from_db()
    assert command.state == "sent" and command.sent_at is not None and command.send_count == 1
    assert audit_actions(command.pk) == ["command.create", "command.sent"]


def test_unacknowledged_command_is_sent_again_after_a_dropped_connection(operator, bodycam):
    command = create(bodycam, operator)
    acted_on: set[str] = set()

    async def device_session(*, act: bool, expect: int) -> list[str]:
        device = await connect(bodycam)
        received = []
        # The frames the server owes arrive when it has read the queue (slow on a loaded machine);
        # after them, nothing more may come.
        while len(received) < expect or not await device.receive_nothing(0.3):
            frame = await receive(device, timeout=10)
            received.append(frame["command"]["id"])
            if act:
                await device.send_json_to({"type": "ack", "command_id": frame["command"]["id"]})
                if frame["command"]["id"] not in acted_on:  # the device acts once per command id
                    acted_on.add(frame["command"]["id"])
                    await device.send_json_to({"type": "result", "command_id": frame["command"]["id"], "ok": True})
        await device.disconnect()
        return received

    async def scenario():
        dropped = await device_session(act=False, expect=1)  # the connection drops before the ack
        assert dropped == [str(command.pk)]
        assert await state_of(command.pk) == "sent"
        again = await device_session(act=True, expect=1)
        assert again == [str(command.pk)]
        await wait_state(command.pk, "succeeded")
        assert await device_session(act=True, expect=0) == []  # finished: not sent a third time

    run(scenario)
    command.refresh_from_db()
    assert command.send_count == 2
    assert audit_actions(command.pk).count("command.succeeded") == 1
    assert audit_actions(command.pk).count("command.sent") == 1


def test_acknowledged_command_without_a_result_is_sent_again_on_connect(operator, bodycam):
    """Unfinished (PROTOCOL): a device that acked and then dropped (rebooted) before acting gets it again."""
    command = create(bodycam, operator)

    async def scenario():
        device = await connect(bodycam)
        assert (await receive(device))["command"]["id"] == str(command.pk)
        await device.send_json_to({"type": "ack", "command_id": str(command.pk)})
        await wait_state(command.pk, "delivered")
        await device.disconnect()
        device = await connect(bodycam)
        assert (await receive(device))["command"]["id"] == str(command.pk)
        assert await state_of(command.pk) == "delivered"  # a re-send does not move it back
        await device.send_json_to({"type": "ack", "command_id": str(command.pk)})
        await device.send_json_to({"type": "result", "command_id": str(command.pk), "ok": True})
        await wait_state(command.pk, "succeeded")
        await device.disconnect()

    run(scenario)
    command.refresh_from_db()
    assert command.send_count == 2
    assert audit_actions(command.pk) == ["command.create", "command.sent", "command.delivered", "command.succeeded"]


def test_duplicate_ack_and_result_are_harmless(operator, bodycam):
    command = create(bodycam, operator)

    async def scenario():
        device = await connect(bodycam)
        await receive(device)
        for frame in (
            {"type": "ack", "command_id": str(command.pk)},
            {"type": "result", "command_id": str(command.pk), "ok": True},
            {"type": "ack", "command_id": str(command.pk)},
            {"type": "result", "command_id": str(command.pk), "ok": False, "error": "late echo"},
        ):
            await device.send_json_to(frame)
        assert await device.receive_nothing(0.3)  # no error frames
        await device.disconnect()

    run(scenario)
    command.refresh_from_db()
    assert command.state == "succeeded" and command.error == ""
    assert audit_actions(command.pk) == ["command.create", "command.sent", "command.delivered", "command.succeeded"]


def test_bad_and_foreign_reports_get_an_error_frame_and_change_nothing(operator, bodycam, make_device):
    other = make_device()
    foreign = create(other, operator)
    own = create(bodycam, operator)

    async def scenario():
        device = await connect(bodycam)
        await receive(device)  # own command
        problems = [
            ({"type": "ack", "command_id": str(foreign.pk)}, "unknown_command"),
            ({"type": "result", "command_id": str(foreign.pk), "ok": True}, "unknown_command"),
            ({"type": "ack", "command_id": "00000000-0000-4000-8000-000000000000"}, "unknown_command"),
            ({"type": "ack", "command_id": "not-a-uuid"}, "unknown_command"),
            ({"type": "ack"}, "invalid"),
            ({"type": "ack", "command_id": 7}, "invalid"),
            ({"type": "result", "command_id": str(own.pk), "ok": "yes"}, "invalid"),
            ({"type": "result", "command_id": str(own.pk), "ok": False, "error": 5}, "invalid"),
            ({"type": "result", "command_id": str(own.pk), "ok": False, "error": "x" * 1001}, "invalid"),
            # PostgreSQL's text cannot hold NUL, and UTF-8 has no lone surrogate: each closed the
            # socket with 1011 (a server error) and left the command as it was.
            ({"type": "result", "command_id": str(own.pk), "ok": False, "error": "nul\x00x"}, "invalid"),
            ({"type": "result", "command_id": str(own.pk), "ok": False, "error": "bad\ud800x"}, "invalid"),
        ]
        for frame, code in problems:
            await device.send_to(text_data=json.dumps(frame))  # a lone surrogate as JSON writes it: \ud800
            answer = await receive(device)
            assert answer["type"] == "error" and answer["code"] == code, (frame, answer)
            assert answer["message"]
        # The connection stays usable.
        await device.send_json_to({"type": "result", "command_id": str(own.pk), "ok": False, "error": "storage full"})
        await wait_state(own.pk, "failed")
        await device.disconnect()

    run(scenario)
    foreign.refresh_from_db()
    assert foreign.state == "queued"
    own.refresh_from_db()
    assert own.error == "storage full" and own.finished_at is not None
    assert own.delivered_at is not None  # a result implies the device had it


@pytest.mark.parametrize("nesting", [1000, 20_000])
def test_a_frame_nested_deeper_than_the_decoder_goes_gets_bad_json_and_the_socket_stays(bodycam, nesting):
    async def scenario():
        device = await connect(bodycam)
        # 2 KB: far under the size limit, but Python's decoder gives up (RecursionError): that
        # closed the socket with 1011, a server error.
        deep = "[" * nesting + "]" * nesting
        await device.send_to(text_data='{"type": "status", "recording": true, "x": ' + deep + "}")
        answer = await receive(device)
        assert (answer["type"], answer["code"]) == ("error", "bad_json"), answer
        await device.send_json_to({"type": "status", "recording": True, "battery_pct": 61})
        assert await device.receive_nothing(0.3)
        await presence.flush()
        await device.disconnect()

    run(scenario)
    bodycam.device.refresh_from_db()
    assert bodycam.device.battery_pct == 61


def test_a_frame_over_64_kib_of_utf8_is_refused_even_when_it_has_fewer_characters(bodycam):
    async def scenario():
        device = await connect(bodycam)
        # 40,000 characters, 80,000 bytes on the wire: over the limit, which counts bytes
        frame = {"type": "status", "recording": True, "note": "é" * 40_000}
        await device.send_to(text_data=json.dumps(frame, ensure_ascii=False))
        answer = await receive(device)
        assert (answer["type"], answer["code"]) == ("error", "bad_frame"), answer
        # just under the limit in bytes: used, and the connection stays open
        frame = {"type": "status", "recording": True, "battery_pct": 77, "note": "é" * 30_000}
        await device.send_to(text_data=json.dumps(frame, ensure_ascii=False))
        assert await device.receive_nothing(0.3)
        await presence.flush()
        await device.disconnect()

    run(scenario)
    bodycam.device.refresh_from_db()
    assert bodycam.device.battery_pct == 77


@pytest.mark.parametrize("path", ["/ws/unknown/", "/ws/device", "/api/v1/devices", "/"])
def test_a_websocket_on_a_path_with_no_socket_is_closed_with_4404_never_a_500(path):
    async def scenario():
        communicator = WebsocketCommunicator(websocket, path)
        accepted, _ = await communicator.connect(timeout=SOCKET_WAIT)
        assert accepted
        closed = await communicator.receive_output(timeout=SOCKET_WAIT)
        assert closed["type"] == "websocket.close" and closed["code"] == 4404, closed
        assert "/ws/device/" in closed["reason"] and "/ws/console/" in closed["reason"]

    run(scenario)


def test_a_result_for_a_cancelled_command_keeps_it_cancelled_but_is_recorded(operator, bodycam):
    command = create(bodycam, operator)
    services.command_claim_send(command_id=command.pk, device=bodycam.device)
    services.command_cancel(command=command, user=operator)
    assert services.command_result(command_id=command.pk, device=bodycam.device, ok=True) is None
    command.refresh_from_db()
    assert command.state == "cancelled"
    assert audit_actions(command.pk)[-1] == "command.late_result"


def test_delivered_command_without_a_result_fails_after_the_grace_period(operator, bodycam, settings):
    settings.RTCC_COMMAND_RESULT_GRACE = 60
    command = create(bodycam, operator)
    services.command_ack(command_id=command.pk, device=bodycam.device)
    Command.objects.filter(pk=command.pk).update(expires_at=timezone.now() - timedelta(seconds=30))
    assert services.command_expire_due()["failed_without_result"] == 0
    Command.objects.filter(pk=command.pk).update(expires_at=timezone.now() - timedelta(seconds=61))
    assert services.command_expire_due() == {"expired": 0, "failed_without_result": 1}
    command.refresh_from_db()
    assert command.state == "failed" and "no result" in command.error


def test_the_periodic_task_is_scheduled_and_expires():
    from django.conf import settings as django_settings

    from apps.control import tasks

    entry = django_settings.CELERY_BEAT_SCHEDULE["rtcc-control-expire-commands"]
    assert entry["task"] == "apps.control.tasks.commands_expire"
    assert tasks.commands_expire() == {"expired": 0, "failed_without_result": 0, "resent": 0, "woken": 0, "notices": 0}


def test_racing_transitions_have_exactly_one_winner(operator, bodycam):
    """A cancel from the console and an ack from the device at the same moment, in many threads
    (separate database connections): one of them wins, once; the loser changes nothing."""
    from apps.core.errors import Conflict
    from tests.helpers import at_once

    command = create(bodycam, operator)
    services.command_claim_send(command_id=command.pk, device=bodycam.device)

    def cancel() -> str:
        try:
            services.command_cancel(command=command, user=operator)
        except Conflict:
            return "conflict"
        return "cancelled"

    def ack() -> str:
        services.command_ack(command_id=command.pk, device=bodycam.device)
        return "ack"

    outcomes = at_once(*(cancel, ack) * 3)
    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    command.refresh_from_db()
    transitions = [
        action for action in audit_actions(command.pk) if action in ("command.cancelled", "command.delivered")
    ]
    assert len(transitions) == 1
    assert command.state == transitions[0].split(".")[1]
    assert outcomes.count("cancelled") == (1 if command.state == "cancelled" else 0)


def test_an_ack_after_expires_at_leaves_the_command_expired_as_the_contract_says(client_for, operator, bodycam):
    """A command nobody acknowledged by its expires_at is expired: an ack or result that comes later
    (the device was slow) is recorded but moves nothing, whether or not the sweep ran first."""
    client = client_for(operator)

    async def scenario():
        device = await connect(bodycam)
        response = await database_sync_to_async(post_command)(client, bodycam.id, reason="Slow camera")
        command_id = response.json()["id"]
        assert (await receive(device))["command"]["id"] == command_id
        await wait_state(command_id, "sent")
        past = timezone.now() - timedelta(milliseconds=50)  # its TTL ran out before the device answered
        await database_sync_to_async(Command.objects.filter(pk=command_id).update)(expires_at=past)
        await device.send_json_to({"type": "ack", "command_id": command_id})
        await wait_state(command_id, "expired")
        await device.send_json_to({"type": "result", "command_id": command_id, "ok": True})
        assert await device.receive_nothing(0.3)  # not an error: nothing to say to the device
        await device.disconnect()
        return command_id

    command_id = run(scenario)
    command = Command.objects.get(pk=command_id)
    assert (command.state, command.delivered_at, command.finished_at is not None) == ("expired", None, True)
    assert audit_actions(command_id) == [
        "command.create",
        "command.sent",
        "command.expired",
        "command.late_ack",
        "command.late_result",
    ]
    assert client.get(f"/api/v1/commands/{command_id}").json()["state"] == "expired"


def test_a_command_acknowledged_in_time_takes_its_result_after_expires_at(operator, bodycam):
    command = create(bodycam, operator)
    services.command_claim_send(command_id=command.pk, device=bodycam.device)
    assert services.command_ack(command_id=command.pk, device=bodycam.device) is None
    Command.objects.filter(pk=command.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.command_result(command_id=command.pk, device=bodycam.device, ok=True) is None
    assert Command.objects.get(pk=command.pk).state == "succeeded"  # the camera was told in time and acted


@pytest.mark.parametrize("down", ["layer", "layer-and-presence"])
def test_a_device_socket_is_told_to_come_back_later_when_the_channel_layer_is_down(bodycam, settings, down):
    """Redis unreachable: the socket was closed with 1011 (a server error) and a traceback; the
    device is now told to try again later (1013), which it does with its backoff. Presence lives
    in the same Redis: counting the socket down failed too and ended the consumer with a 1011.
    A socket refused before presence heard of it leaves the device's count as it was."""
    from channels.layers import channel_layers

    working = settings.CHANNEL_LAYERS
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "apps.core.layers.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    if down == "layer-and-presence":
        settings.RTCC_PRESENCE_REDIS_URL = "redis://127.0.0.1:1/0"
    channel_layers.backends.clear()

    async def scenario():
        device = await connected("/ws/device/", bodycam.auth)
        closed = await device.receive_output(timeout=SOCKET_WAIT)
        assert closed == {"type": "websocket.close", "code": 1013}, closed
        await device.wait(timeout=SOCKET_WAIT)  # the consumer ended without an error

    try:
        run(scenario)
    finally:
        channel_layers.backends.clear()
    if down == "layer":  # Redis back: the device connects and counts as one socket, not none
        settings.CHANNEL_LAYERS = working

        async def back():
            device = await connected("/ws/device/", bodycam.auth)
            try:
                deadline = asyncio.get_running_loop().time() + SOCKET_WAIT
                while (stored := await presence.store().get(str(bodycam.device.pk))).get("conn") != "1":
                    if asyncio.get_running_loop().time() > deadline:
                        break  # counted as no socket (the refused one had counted itself down)
                    await asyncio.sleep(0.05)
                return stored
            finally:
                await device.disconnect()

        try:
            assert run(back).get("conn") == "1"
        finally:
            channel_layers.backends.clear()
