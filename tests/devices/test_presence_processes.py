"""Presence across processes (Redis): a device counts as connected only through the sockets of
daphne processes that are alive. A process killed outright stops counting within the process
time-to-live; one stopped cleanly (a deploy, a restart) at once. Before, either kept its devices
"online" with no socket until no sign of life had come for the presence timeout (120 s)."""

from __future__ import annotations

import json
import signal

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from apps.accounts.services import token_issue
from apps.devices import presence
from tests.helpers import wait_for, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


def _online(server, token: str, device_id) -> bool:
    response = httpx.get(
        f"{server.url}/api/v1/devices/{device_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["online"]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_device_whose_process_is_gone_is_offline_without_waiting_for_the_presence_timeout(
    live_server_pair, enrolled, it_user, how
):
    device, token = enrolled("bodycam")
    it_token, _ = token_issue(user=it_user)
    holder, other = live_server_pair
    with ws_connect(f"{holder.ws_url}/ws/device/", token=token) as ws:
        ws.send(json.dumps({"type": "status", "recording": False, "battery_pct": 50}))
        assert wait_for(lambda: _online(other, it_token, device.pk), bool) is True
        holder.process.send_signal(how)
        holder.process.wait(timeout=30)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
    # A clean stop retires the process at once; a killed one stops counting within PROCESS_TTL.
    # Either way well before the presence timeout (120 s) the device had to stay "online" for.
    limit = 5 if how == signal.SIGTERM else presence.PROCESS_TTL + 10
    assert wait_for(lambda: _online(other, it_token, device.pk), lambda online: not online, timeout=limit) is False


@pytest.mark.once  # the embedded default: one process holds every socket
def test_the_embedded_server_starts_with_every_device_offline(enrolled, it_user):
    from django.utils import timezone

    from apps.devices.models import Device
    from tests.helpers import LiveServer

    device, _ = enrolled("bodycam")
    # what a run that stopped (or crashed) with the camera's socket open leaves in the row
    Device.objects.filter(pk=device.pk).update(online=True, last_seen=timezone.now())
    it_token, _ = token_issue(user=it_user)
    server = LiveServer()
    try:
        assert _online(server, it_token, device.pk) is False
    finally:
        server.stop()


def test_a_redis_that_lost_the_counts_gets_them_back_while_the_sockets_stay_open(
    live_server_process, redis_url, enrolled, it_user
):
    import redis

    device, token = enrolled("bodycam")
    it_token, _ = token_issue(user=it_user)
    server = live_server_process
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with ws_connect(f"{server.ws_url}/ws/device/", token=token) as ws:
        ws.send(json.dumps({"type": "status", "recording": False, "battery_pct": 50}))
        assert wait_for(lambda: _online(server, it_token, device.pk), bool) is True
        # Redis restarted with nothing saved: every presence key is gone, the socket is still open
        for name in client.scan_iter(f"{presence.KEY_PREFIX}*"):
            client.delete(name)
        ws.send(json.dumps({"type": "status", "recording": False, "battery_pct": 49}))  # the next frame
        assert wait_for(lambda: client.exists(presence.key(device.pk)), bool)
        # within a heartbeat the process counts its sockets again: online, not "offline" until a reconnect
        assert wait_for(lambda: _online(server, it_token, device.pk), bool, timeout=presence.HEARTBEAT_SECONDS * 4)
        fields = client.hgetall(presence.key(device.pk))
        assert [int(v) for k, v in fields.items() if k.startswith(presence.CONN_PREFIX)] == [1]


def test_a_recount_never_counts_a_socket_whose_own_count_is_on_its_way(redis_url, enrolled, settings):
    """Redis lost the counts while a camera's socket was closing: the process's recount and the
    socket's own count down reach Redis in either order. The count must end at the sockets still
    open, not one off until the camera reconnects."""
    import asyncio

    import redis
    from asgiref.sync import async_to_sync

    settings.RTCC_PRESENCE_REDIS_URL = redis_url
    device, _ = enrolled("bodycam")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    field = presence.CONN_PREFIX + presence.PROCESS

    async def scenario():
        live = presence.store()
        await presence.presence_connected(device)
        await presence.presence_connected(device)  # two sockets of the camera on this process
        client.delete(presence.key(device.pk))  # Redis lost its data
        client.client_pause(400)  # Redis holds every command for a moment, in the order they come
        closing = asyncio.ensure_future(presence.presence_disconnected(device))  # one socket closes
        await asyncio.sleep(0.05)  # its count down is on its way, held by Redis
        await presence._recount(live)  # the heartbeat found the process gone: count again
        await closing
        counted = client.hget(presence.key(device.pk), field)
        await presence.presence_disconnected(device)  # the other socket closes: nothing left here
        return counted

    assert async_to_sync(scenario)() == "1"
    assert client.hget(presence.key(device.pk), field) is None


def test_the_sweep_tells_the_console_of_a_device_whose_process_died_without_waiting_for_the_timeout(
    redis_url, enrolled, settings
):
    """The API read the device offline within PROCESS_TTL of its process's death, but the sweep
    looked only at rows silent for the presence timeout: the console's fleet wall showed it online
    for minutes more (2.7 in a probe), while the API said offline and its live view had ended."""
    import time

    import redis
    from django.utils import timezone

    from apps.devices import tasks
    from apps.devices.models import Device

    settings.RTCC_PRESENCE_REDIS_URL = redis_url
    device, _ = enrolled("bodycam")
    now = timezone.now()
    Device.objects.filter(pk=device.pk).update(online=True, last_seen=now)  # written through at connect
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    dead = "gone-host:4242:deadbeef"  # its last heartbeat older than PROCESS_TTL
    client.zadd(presence.PROCESSES_KEY, {dead: time.time() - presence.PROCESS_TTL - 5})
    client.hset(presence.key(device.pk), mapping={presence.CONN_PREFIX + dead: "1", "last_seen": str(now.timestamp())})
    try:
        assert tasks.presence_sweep() == 1
        assert Device.objects.get(pk=device.pk).online is False
    finally:
        client.delete(presence.key(device.pk))
        client.zrem(presence.PROCESSES_KEY, dead)
