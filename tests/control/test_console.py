"""The console websocket: who may open it, the Origin rule for sessions, and command.update events."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from apps.accounts.services import token_issue
from apps.control import services
from apps.control.models import Command
from apps.core.realtime import console_send, device_group
from tests.conftest import ROLES
from tests.control.conftest import SOCKET_WAIT, connected, open_socket, post_command, receive, receive_type, run
from tests.control.conftest import bearer as bearer_token
from tests.helpers import console_login

pytestmark = pytest.mark.django_db(transaction=True)


def bearer(user) -> list[tuple[bytes, bytes]]:
    token, _ = token_issue(user=user)
    return bearer_token(token)


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    console_login(client, user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def open_console(headers) -> tuple[WebsocketCommunicator, int | None]:
    return await open_socket("/ws/console/", headers)


def test_console_socket_per_role(personas, superuser):
    """Operators, IT and superusers are let in; officers and clerks refused (4403); no or bad
    credentials (a person's token that does not exist, a device token) refused (4401)."""
    people = {**personas, "superuser": superuser}
    cases = [(role, bearer(user)) for role, user in people.items()]
    cases += [
        ("anonymous", []),
        ("bad token", [(b"authorization", b"Bearer rtu_not-a-real-token")]),
        ("device token", [(b"authorization", b"Bearer rtd_a-device-token")]),
    ]

    async def scenario():
        codes = {}
        for name, headers in cases:
            communicator, code = await open_console(headers)
            codes[name] = code
            await communicator.disconnect()
        return codes

    assert run(scenario) == {
        "officer": 4403,
        "operator": None,
        "clerk": 4403,
        "it": None,
        "superuser": None,
        "anonymous": 4401,
        "bad token": 4401,
        "device token": 4401,
    }
    assert set(ROLES) <= set(people)


def test_console_session_needs_a_same_site_origin(operator, officer):
    cookie = session_cookie(operator)
    officer_cookie = session_cookie(officer)
    cases = [
        ([cookie], None),  # no Origin: not a browser's cross-site request
        ([cookie, (b"host", b"localhost:8000"), (b"origin", b"http://localhost:8000")], None),
        ([cookie, (b"host", b"127.0.0.1"), (b"x-forwarded-proto", b"https"), (b"origin", b"https://127.0.0.1")], None),
        ([cookie, (b"host", b"localhost"), (b"origin", b"https://evil.example")], 4401),
        ([cookie, (b"host", b"localhost"), (b"origin", b"https://localhost.evil.example")], 4401),
        ([cookie, (b"host", b"localhost"), (b"origin", b"null")], 4401),
        ([officer_cookie, (b"host", b"localhost:8000"), (b"origin", b"http://localhost:8000")], 4403),
    ]

    async def scenario():
        codes = []
        for headers, _expected in cases:
            communicator, code = await open_console(headers)
            codes.append(code)
            await communicator.disconnect()
        return codes

    assert run(scenario) == [expected for _headers, expected in cases]


def test_bearer_auth_needs_no_origin_check(operator):
    headers = [*bearer(operator), (b"origin", b"https://elsewhere.example")]

    async def scenario():
        communicator, code = await open_console(headers)
        await communicator.disconnect()
        return code

    assert run(scenario) is None


def test_console_sees_every_transition_of_a_command(client_for, operator, bodycam):
    client = client_for(operator)
    headers = bearer(operator)

    async def scenario():
        console, code = await open_console(headers)
        assert code is None
        response = await database_sync_to_async(post_command)(client, bodycam.id, reason="Crowd control")
        command_id = response.json()["id"]
        states = []
        event = await receive_type(console, "command.update")
        assert event["command"] == response.json()  # the full command, as the API shows it
        states.append(event["command"]["state"])
        await database_sync_to_async(services.command_claim_send)(command_id=command_id, device=bodycam.device)
        await database_sync_to_async(services.command_record_sent)(command_id=command_id, device=bodycam.device)
        await database_sync_to_async(services.command_ack)(command_id=command_id, device=bodycam.device)
        await database_sync_to_async(services.command_result)(
            command_id=command_id, device=bodycam.device, ok=False, error="lens cap on"
        )
        while len(states) < 4:
            event = await receive_type(console, "command.update")
            assert event["command"]["id"] == command_id
            states.append(event["command"]["state"])
        assert event["command"]["error"] == "lens cap on" and event["command"]["finished_at"]
        await console.disconnect()
        return states

    assert run(scenario) == ["queued", "sent", "delivered", "failed"]


def test_console_sees_cancel_and_expiry(client_for, operator, bodycam):
    client = client_for(operator)
    headers = bearer(operator)

    async def scenario():
        console, _ = await open_console(headers)
        first = (await database_sync_to_async(post_command)(client, bodycam.id)).json()["id"]
        await database_sync_to_async(client.post)(f"/api/v1/commands/{first}/cancel")
        second = (await database_sync_to_async(post_command)(client, bodycam.id)).json()["id"]
        await database_sync_to_async(expire_now)(second)
        events = [await receive_type(console, "command.update") for _ in range(4)]
        await console.disconnect()
        return [(event["command"]["id"], event["command"]["state"]) for event in events], first, second

    events, first, second = run(scenario)
    assert events == [(first, "queued"), (first, "cancelled"), (second, "queued"), (second, "expired")]


def expire_now(command_id) -> None:
    Command.objects.filter(pk=command_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.command_expire_due()


def test_a_console_whose_redis_went_away_is_told_to_reload_and_still_hears_events(operator, redis_url):
    """Events published while Redis was away never reached the console socket, which stayed open:
    the console showed commands as queued that had long succeeded. Once the layer answers again
    the socket gets a `resync` frame (the console reloads, as after a reconnect)."""
    import redis.asyncio as aioredis

    from apps.core.realtime import console_send

    headers = bearer(operator)

    async def cut_waiting_receives() -> int:
        """Redis drops the connections blocked in the layer's receive, as a restart does."""
        client = aioredis.from_url(redis_url)
        try:
            waiting = [c for c in await client.client_list() if c.get("cmd", "").startswith("bzpopmin")]
            for c in waiting:
                await client.client_kill_filter(_id=c["id"])
            return len(waiting)
        finally:
            await client.aclose()

    async def scenario():
        communicator, code = await open_console(headers)
        assert code is None
        try:
            await communicator.receive_nothing(0.3)  # its receive now waits in Redis
            assert await cut_waiting_receives() >= 1
            resync = await receive_type(communicator, "resync", timeout=SOCKET_WAIT)
            assert await console_send("clip.update", {"id": "after-the-outage"})
            return resync, await receive_type(communicator, "clip.update")
        finally:
            await communicator.disconnect()

    resync, event = run(scenario)
    assert resync == {"type": "resync"}
    assert event["clip"] == {"id": "after-the-outage"}


def test_console_socket_joins_its_groups_again_after_the_channel_layer_forgot_them(operator, settings):
    """A Redis restart (no persistence) forgets every group: an open console socket must still
    get events afterwards (RTCC_GROUP_REJOIN), as device sockets do."""
    from channels.layers import get_channel_layer

    from apps.core.realtime import CONSOLE_GROUP, console_send

    settings.RTCC_GROUP_REJOIN = 0.05
    headers = bearer(operator)

    async def forget_every_member(layer) -> None:
        """What a restarted Redis remembers of the console group: nobody (the socket's own channel
        name stays valid, as it does in Redis)."""
        if hasattr(layer, "groups"):  # the in-memory layer
            layer.groups.clear()
        else:
            async with layer.connection(layer.consistent_hash(CONSOLE_GROUP)) as connection:
                await connection.delete(layer._group_key(CONSOLE_GROUP))

    async def scenario():
        communicator, code = await open_console(headers)
        assert code is None
        try:
            await forget_every_member(get_channel_layer())
            await communicator.receive_nothing(0.5)  # ten rejoin periods
            assert await console_send("clip.update", {"id": "after-restart"})
            return await receive_type(communicator, "clip.update", timeout=5)
        finally:
            await communicator.disconnect()

    assert run(scenario)["clip"] == {"id": "after-restart"}


def test_sockets_get_their_events_while_djangos_sync_thread_is_busy(operator, bodycam):
    """A slow sync view holds Django's one sync thread: the console's events and the camera's
    frames still go out at once. (Channels' own dispatch first waits for that thread before each
    message; the consumers here skip that wait, apps/core/realtime.py: DirectDispatch.)"""
    headers = bearer(operator)

    async def scenario():
        console, code = await open_console(headers)
        assert code is None
        device = await connected("/ws/device/", bodycam.auth)
        layer = get_channel_layer()
        # The camera's connect has finished (its backlog read) once a frame comes back.
        await layer.group_send(device_group(bodycam.id), {"type": "device.frame", "frame": {"type": "ping", "n": 0}})
        assert (await receive(device))["n"] == 0
        released = threading.Event()
        busy = asyncio.ensure_future(sync_to_async(released.wait)(2 * SOCKET_WAIT))  # the slow view
        try:
            await console_send("command.update", {"id": "while-busy", "state": "queued"})
            await layer.group_send(
                device_group(bodycam.id), {"type": "device.frame", "frame": {"type": "ping", "n": 1}}
            )
            event = await receive_type(console, "command.update", timeout=SOCKET_WAIT)
            frame = await receive(device, timeout=SOCKET_WAIT)
            still_busy = not busy.done()
        finally:
            released.set()
            await busy
        await console.disconnect()
        await device.disconnect()
        return event, frame, still_busy

    event, frame, still_busy = run(scenario)
    assert event["command"]["id"] == "while-busy"
    assert frame == {"type": "ping", "n": 1}
    assert still_busy
