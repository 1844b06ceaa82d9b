"""Presence: status frames validated strictly, kept live, written through at a bounded rate,
and shown current by the API (in one process and across daphne processes)."""

from __future__ import annotations

import json
import time
from datetime import datetime

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from websockets.exceptions import ConnectionClosed

from apps.accounts.services import token_issue
from apps.devices import presence
from apps.devices.models import Device
from tests.helpers import wait_for, ws_connect, ws_receive_json

GOOD = {
    "type": "status",
    "recording": True,
    "battery_pct": 77,
    "storage_free_mb": 1234,
    "location": {"lat": 52.52, "lon": 13.405, "accuracy_m": 6.5},
}


@pytest.mark.parametrize(
    "frame",
    [
        {"recording": False},
        {"recording": True, "battery_pct": 0, "storage_free_mb": 0},
        {"recording": False, "battery_pct": 100, "location": {"lat": -90, "lon": 180}},
        {"recording": False, "battery_pct": None, "location": {"lat": 90.0, "lon": -180.0, "accuracy_m": 0}},
        {"recording": True, "battery_pct": 50.0, "storage_free_mb": 1234.0},  # whole numbers written as 50.0
        GOOD,
    ],
)
def test_good_frames_parse(frame):
    fields, problem = presence.parse_status(frame)
    assert problem is None and fields["recording"] == frame["recording"]
    for name in ("battery_pct", "storage_free_mb"):
        if frame.get(name) is not None:
            assert fields[name] == frame[name] and type(fields[name]) is int


@pytest.mark.parametrize(
    "frame",
    [
        {},
        {"recording": "yes"},
        {"recording": 1},
        {"recording": None},
        {"recording": True, "battery_pct": -5},
        {"recording": True, "battery_pct": 101},
        {"recording": True, "battery_pct": 50.5},
        {"recording": True, "battery_pct": "50"},
        {"recording": True, "battery_pct": float("inf")},
        {"recording": True, "battery_pct": "50"},
        {"recording": True, "battery_pct": True},
        {"recording": True, "storage_free_mb": -1},
        {"recording": True, "storage_free_mb": 1.5},
        {"recording": True, "storage_free_mb": 2**40},
        {"recording": True, "location": "here"},
        {"recording": True, "location": {"lat": 200, "lon": 0}},
        {"recording": True, "location": {"lat": 0, "lon": 181}},
        {"recording": True, "location": {"lat": 0}},
        {"recording": True, "location": {"lat": "1", "lon": 2}},
        {"recording": True, "location": {"lat": float("nan"), "lon": 2}},
        {"recording": True, "location": {"lat": 1, "lon": float("inf")}},
        {"recording": True, "location": {"lat": 1, "lon": 2, "accuracy_m": -1}},
        {"recording": True, "location": {"lat": 1, "lon": 2, "accuracy_m": "far"}},
        # Whole numbers too large for a float, as JSON may write them digit by digit (a server_error
        # and a traceback each, before).
        {"recording": True, "location": {"lat": 10**400, "lon": 2}},
        {"recording": True, "location": {"lat": 1, "lon": -(10**400)}},
        {"recording": True, "location": {"lat": 1, "lon": 2, "accuracy_m": 10**309}},
    ],
)
def test_bad_frames_are_refused_whole(frame):
    fields, problem = presence.parse_status(frame)
    assert fields is None and problem


@pytest.mark.django_db(transaction=True)  # presence's database_sync_to_async closes connections
def test_frames_cost_bounded_database_writes(enrolled, settings):
    """Many frames from one device: the live copy follows every frame, the row is written on
    connect, on a recording change and on disconnect only (the write interval is long)."""
    settings.RTCC_PRESENCE_REDIS_URL = None  # the in-process live copy: this test is about the database
    settings.RTCC_PRESENCE_WRITE_INTERVAL = 3600
    device, _ = enrolled("bodycam")

    async def frames():
        await presence.presence_connected(device)
        for n in range(50):
            await presence.presence_status(device, {"type": "status", "recording": False, "battery_pct": 90 - n})
        await presence.presence_status(device, {"type": "status", "recording": True, "battery_pct": 40})
        for n in range(50):
            await presence.presence_status(
                device,
                {
                    "type": "status",
                    "recording": True,
                    "battery_pct": 39 - n % 30,
                    "location": {"lat": 10 + n / 1000, "lon": 20},
                },
            )
        await presence.flush()

    async def disconnect():
        await presence.presence_disconnected(device)
        await presence.flush()

    with CaptureQueriesContext(connection) as queries:
        async_to_sync(frames)()
        live = presence.merge_live([Device.objects.get(pk=device.pk)])[0]
        async_to_sync(disconnect)()
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE") and "devices_device" in q["sql"]]
    assert len(updates) <= 3  # connect, the recording change, disconnect: not 101
    assert live.online is True and live.recording is True and live.battery_pct == 39 - 49 % 30
    assert live.lat == pytest.approx(10.049)
    stored = Device.objects.get(pk=device.pk)
    # the disconnect wrote the latest values through
    assert stored.online is False and stored.recording is True and stored.battery_pct == 39 - 49 % 30
    assert stored.lat == pytest.approx(10.049) and stored.last_seen is not None


def _it_headers(it_user) -> dict:
    token, _ = token_issue(user=it_user)
    return {"Authorization": f"Bearer {token}"}


def _console_status(console, device_id, check) -> dict:
    """The next device.status event for this device that passes `check`."""
    while True:
        event = ws_receive_json(console)
        if event.get("type") == "device.status" and event["device"]["id"] == str(device_id) and check(event["device"]):
            return event["device"]


@pytest.mark.django_db(transaction=True)
def test_status_frames_over_the_websocket(live_server_process, enrolled, it_user, operator):
    device, token = enrolled("bodycam")
    headers = _it_headers(it_user)
    url = f"{live_server_process.url}/api/v1/devices/{device.pk}"
    console_token, _ = token_issue(user=operator)

    def fetch():
        return httpx.get(url, headers=headers, timeout=10).json()

    with (
        ws_connect(f"{live_server_process.ws_url}/ws/console/", token=console_token) as console,
        ws_connect(f"{live_server_process.ws_url}/ws/device/", token=token) as ws,
    ):
        assert _console_status(console, device.pk, lambda d: d["online"])["serial"] == device.serial
        assert wait_for(fetch, lambda body: body["online"])["online"] is True
        ws.send(json.dumps(GOOD))
        # the console hears of the recording change at once, with the frame's values
        pushed = _console_status(console, device.pk, lambda d: d["recording"])
        assert pushed["battery_pct"] == 77 and pushed["location"]["lat"] == 52.52
        body = wait_for(fetch, lambda body: body["battery_pct"] == 77)
        assert body["recording"] is True and body["battery_pct"] == 77 and body["storage_free_mb"] == 1234
        assert body["location"]["lat"] == 52.52 and body["location"]["lon"] == 13.405
        assert body["location"]["accuracy_m"] == 6.5 and body["location"]["at"]
        assert body["last_seen"]
        listed = httpx.get(f"{live_server_process.url}/api/v1/devices?online=true", headers=headers).json()
        assert [row["id"] for row in listed["results"]] == [str(device.pk)]

        # unusable frames: an error each, nothing changes, the socket stays open
        for bad in [
            {"type": "status", "recording": True, "battery_pct": -5},
            {"type": "status", "recording": False, "location": {"lat": 200, "lon": 0}},
            {"type": "status", "battery_pct": 10},
            {"type": "bogus"},
        ]:
            ws.send(json.dumps(bad))
            reply = ws_receive_json(ws)
            assert reply["type"] == "error" and reply["code"] and reply["message"]
        ws.send("not json")
        assert ws_receive_json(ws)["type"] == "error"
        body = fetch()
        assert body["battery_pct"] == 77 and body["recording"] is True and body["location"]["lat"] == 52.52

        ws.send(json.dumps({"type": "status", "recording": False, "battery_pct": 76}))
        body = wait_for(fetch, lambda body: body["battery_pct"] == 76)
        assert body["recording"] is False and body["online"] is True

    body = wait_for(fetch, lambda body: not body["online"])
    assert body["online"] is False and body["battery_pct"] == 76
    # the device's own view agrees
    me = httpx.get(f"{live_server_process.url}/api/v1/device", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["battery_pct"] == 76 and me["online"] is False


@pytest.mark.django_db(transaction=True)
def test_presence_is_shared_across_processes(live_server_pair, enrolled, it_user):
    """A frame on one daphne process shows on the other; two sockets count as one online device
    until both are gone."""
    device, token = enrolled("phone")
    headers = _it_headers(it_user)
    first, second = live_server_pair

    def fetch():
        return httpx.get(f"{second.url}/api/v1/devices/{device.pk}", headers=headers, timeout=10).json()

    with ws_connect(f"{first.ws_url}/ws/device/", token=token) as ws_a:
        ws_a.send(
            json.dumps(
                {"type": "status", "recording": False, "battery_pct": 61, "location": {"lat": 48.85, "lon": 2.35}}
            )
        )
        body = wait_for(fetch, lambda body: body["battery_pct"] == 61)
        assert body["online"] is True and body["location"]["lat"] == 48.85
        with ws_connect(f"{second.ws_url}/ws/device/", token=token) as ws_b:
            ws_b.send(json.dumps({"type": "status", "recording": False, "battery_pct": 60}))
            assert wait_for(fetch, lambda body: body["battery_pct"] == 60)["battery_pct"] == 60
        # one socket closed, one still open: online
        time.sleep(0.3)
        assert fetch()["online"] is True
        ws_a.send(json.dumps({"type": "status", "recording": True, "battery_pct": 59}))
        body = wait_for(fetch, lambda body: body["battery_pct"] == 59)
        assert body["recording"] is True and body["online"] is True
    assert wait_for(fetch, lambda body: not body["online"])["online"] is False


@pytest.mark.django_db(transaction=True)
def test_the_console_keeps_a_revoked_device_revoked(live_server_process, enrolled, it_user, operator):
    # The revoke's own event, then the closed socket's: the last one must not bring back a
    # device that is not revoked (it was built from what the socket held since it connected).
    device, token = enrolled("bodycam")
    console_token, _ = token_issue(user=operator)
    with (
        ws_connect(f"{live_server_process.ws_url}/ws/console/", token=console_token) as console,
        ws_connect(f"{live_server_process.ws_url}/ws/device/", token=token) as ws,
    ):
        _console_status(console, device.pk, lambda d: d["online"])
        url = f"{live_server_process.url}/api/v1/devices/{device.pk}/revoke"
        assert httpx.post(url, headers=_it_headers(it_user), timeout=10).status_code == 200
        revoked = _console_status(console, device.pk, lambda d: d["revoked"])
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=30)
        # the socket's last word: seen after the revoke
        at = datetime.fromisoformat(revoked["revoked_at"])
        gone = _console_status(console, device.pk, lambda d: datetime.fromisoformat(d["last_seen"]) > at)
    assert gone["revoked"] is True and gone["revoked_at"] == revoked["revoked_at"] and gone["online"] is False
