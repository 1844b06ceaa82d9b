"""Faults around command delivery (issue 13, items 11 and 14): a channel layer that is down when a
command commits, and a database error while the server handles one device frame."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels_redis.core import RedisChannelLayer
from django.db import connection
from django.utils import timezone

from apps.control import services
from apps.control.models import Command
from tests.control.conftest import command_inserts_fail, post_command, receive, run
from tests.control.test_delivery import connect, wait_state

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def channel_layer_down():
    """The process's channel layer becomes a Redis layer on a port where nothing listens (a
    real connection refused), as during a Redis outage; the previous layer comes back after."""
    previous = channel_layers.backends.get("default")
    channel_layers.backends["default"] = RedisChannelLayer(hosts=["redis://127.0.0.1:1/0"])
    try:
        yield
    finally:
        if previous is None:
            channel_layers.backends.pop("default", None)
        else:
            channel_layers.backends["default"] = previous


def test_a_command_stored_while_the_channel_layer_is_down_answers_202_and_is_delivered_by_the_sweep(
    client_for, operator, bodycam
):
    client = client_for(operator)
    earlier, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="stop_recording", reason="Before the outage"
    )

    async def scenario():
        device = await connect(bodycam)  # connected before the outage, on the working layer
        assert (await receive(device))["command"]["id"] == str(earlier.pk)  # its connect is complete
        with channel_layer_down():
            response = await database_sync_to_async(post_command)(client, bodycam.id, reason="During an outage")
        # The row was committed: the answer is 202 (a 500 would make an operator retry and double it).
        assert response.status_code == 202, response.content
        command_id = response.json()["id"]
        assert await device.receive_nothing(0.2)
        assert await database_sync_to_async(lambda: Command.objects.get(pk=command_id).state)() == "queued"
        # The sweep catches up without the request: the connected device gets it, once.
        later = timezone.now() + timedelta(seconds=30)
        assert await database_sync_to_async(services.command_resend_queued)(now=later) == 1
        frame = await receive(device)
        assert frame["type"] == "command" and frame["command"]["id"] == command_id
        await wait_state(command_id, "sent")
        assert await database_sync_to_async(services.command_resend_queued)(now=later) == 0
        assert await device.receive_nothing(0.2)
        await device.disconnect()
        return command_id

    command_id = run(scenario)
    assert Command.objects.filter(device=bodycam.device).count() == 2
    assert Command.objects.get(pk=command_id).send_count == 1


def test_the_sweep_leaves_fresh_and_expired_queued_commands_alone(operator, bodycam):
    fresh, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="fresh", ttl_seconds=60
    )
    assert services.command_resend_queued() == 0  # just created: its own send is on its way
    assert services.command_resend_queued(now=fresh.expires_at + timedelta(seconds=1)) == 0  # past its TTL


# A database error in one device frame (item 14) -------------------------------------------------


def deliveries_fail(times: int) -> None:
    """The next `times` UPDATEs of a command to `delivered` fail inside PostgreSQL with a
    serialization failure (SQLSTATE 40001, a transient error a client is meant to retry). A
    sequence counts them, as it is not rolled back with the failing statement."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE IF NOT EXISTS rtcc_fault_seq")
        cursor.execute("SELECT setval('rtcc_fault_seq', 1, false)")
        cursor.execute(
            f"""
            CREATE OR REPLACE FUNCTION rtcc_fault() RETURNS trigger AS $$
            BEGIN
                IF NEW.state = 'delivered' AND nextval('rtcc_fault_seq') <= {int(times)} THEN
                    RAISE EXCEPTION 'injected transient failure' USING ERRCODE = '40001';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql
            """
        )
        cursor.execute(
            "CREATE TRIGGER rtcc_fault BEFORE UPDATE ON control_command FOR EACH ROW EXECUTE FUNCTION rtcc_fault()"
        )


def deliveries_work() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS rtcc_fault ON control_command")
        cursor.execute("DROP FUNCTION IF EXISTS rtcc_fault()")
        cursor.execute("DROP SEQUENCE IF EXISTS rtcc_fault_seq")


def test_a_transient_database_error_on_an_ack_is_retried_and_the_socket_stays_open(postgres_db, operator, bodycam):
    command, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="Retry me"
    )

    async def scenario():
        device = await connect(bodycam)
        frame = await receive(device)
        assert frame["command"]["id"] == str(command.pk)
        await wait_state(command.pk, "sent")
        await database_sync_to_async(deliveries_fail)(1)
        await device.send_json_to({"type": "ack", "command_id": str(command.pk)})
        await wait_state(command.pk, "delivered")
        assert await device.receive_nothing(0.2)  # no error frame: the retry recorded it
        await device.send_json_to({"type": "result", "command_id": str(command.pk), "ok": True})
        await wait_state(command.pk, "succeeded")
        await device.disconnect()

    try:
        run(scenario)
    finally:
        deliveries_work()


def test_a_database_outage_during_a_frame_answers_an_error_frame_and_keeps_the_connection(
    postgres_db, operator, bodycam
):
    command, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="Outage"
    )

    async def scenario():
        device = await connect(bodycam)
        await receive(device)
        await wait_state(command.pk, "sent")
        await database_sync_to_async(deliveries_fail)(1000)
        await device.send_json_to({"type": "ack", "command_id": str(command.pk)})
        error = await receive(device)
        assert error == {"type": "error", "code": "unavailable", "message": error["message"]}
        assert await database_sync_to_async(lambda: Command.objects.get(pk=command.pk).state)() == "sent"
        await database_sync_to_async(deliveries_work)()
        # Same socket: the device sends its report again once the database is back.
        await device.send_json_to({"type": "ack", "command_id": str(command.pk)})
        await wait_state(command.pk, "delivered")
        await device.send_json_to({"type": "result", "command_id": str(command.pk), "ok": True})
        await wait_state(command.pk, "succeeded")
        await device.disconnect()

    try:
        run(scenario)
    finally:
        deliveries_work()


def test_a_command_post_while_the_database_fails_answers_503_with_retry_after_and_stores_nothing(
    postgres_db, client_for, operator, bodycam
):
    # The API view's way (the fast path answers before Django only under daphne): a database that
    # fails every insert of a command, as during a failover, is a dependency down, not a bug.
    with command_inserts_fail("40001"):  # a serialization failure, as in a failover
        response = post_command(client_for(operator), bodycam.id)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response["Retry-After"] == "2"
    assert not Command.objects.exists()
    assert post_command(client_for(operator), bodycam.id).status_code == 202  # and once it is back
