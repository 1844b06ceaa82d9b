"""A camera that (re)connects hears where its latest live session stands, over a real websocket
to a daphne process: `stop` for a session that ended while it was away (the stop sent then reached
no socket), `start` again for a session still open."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from apps.accounts.services import token_issue
from apps.live import services
from apps.live.models import LiveSession
from tests.control.test_cross_process import next_of_type
from tests.helpers import ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


def _start_session(server, camera, operator, device_ws) -> tuple[dict, dict]:
    """The camera reports recording and an operator opens a session: (session, the start frame)."""
    token, _ = token_issue(user=operator)
    device_ws.send(json.dumps({"type": "status", "recording": True, "battery_pct": 80}))
    response = httpx.post(
        f"{server.url}/api/v1/devices/{camera.id}/live",
        json={"reason": "Reconnect test"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    start = next_of_type(device_ws, "live", timeout=30)
    assert start["action"] == "start" and start["live"]["id"] == response.json()["id"]
    return response.json(), start


def _wait_ended(session_id: str, timeout: float = 30) -> LiveSession:
    deadline = time.monotonic() + timeout
    while True:
        session = LiveSession.objects.get(pk=session_id)
        if session.state == "ended" or time.monotonic() > deadline:
            return session
        time.sleep(0.05)


def test_a_camera_back_after_its_session_ended_is_told_to_stop(live_server_process, camera, operator):
    server = live_server_process
    with ws_connect(f"{server.ws_url}/ws/device/", token=camera.token, timeout=30) as first:
        live, _ = _start_session(server, camera, operator, first)
    # the camera lost its connection: the session ended, and the stop went to no socket
    session = _wait_ended(live["id"])
    assert (session.state, session.end_reason) == ("ended", "disconnected")
    with ws_connect(f"{server.ws_url}/ws/device/", token=camera.token, timeout=30) as again:
        stop = next_of_type(again, "live", timeout=30)
    assert stop["action"] == "stop" and stop["live"]["id"] == live["id"]


def test_a_camera_reconnecting_while_its_session_is_open_is_told_to_start_again(live_server_process, camera, operator):
    """The old socket is not yet seen gone (a half-open connection after a network change) when
    the camera opens a new one: the session is still open and valid, and the new socket hears
    `start` for it, with where to send the segments."""
    server = live_server_process
    with ws_connect(f"{server.ws_url}/ws/device/", token=camera.token, timeout=30) as first:
        live, start = _start_session(server, camera, operator, first)
        with ws_connect(f"{server.ws_url}/ws/device/", token=camera.token, timeout=30) as again:
            resumed = next_of_type(again, "live", timeout=30)
            assert resumed == start
            assert LiveSession.objects.get(pk=live["id"]).state in ("requested", "live")


def test_nothing_is_resent_for_a_session_that_ended_long_ago(operator, camera):
    from tests.helpers import api_client
    from tests.live.conftest import request_live

    live = request_live(api_client(operator), camera.id).json()
    # a socket that joined before the session began heard its start itself
    assert services.live_device_connected(device_id=camera.id, connected_at=timezone.now() - timedelta(1)) is None
    assert services.live_device_connected(device_id=camera.id, connected_at=timezone.now()) == "start"
    services.live_stop(session=LiveSession.objects.get(pk=live["id"]), user=operator)
    assert services.live_device_connected(device_id=camera.id, connected_at=timezone.now()) == "stop"
    LiveSession.objects.filter(pk=live["id"]).update(ended_at=timezone.now() - timedelta(days=1))
    assert services.live_device_connected(device_id=camera.id, connected_at=timezone.now()) is None
