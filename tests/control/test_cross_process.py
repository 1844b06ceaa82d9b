"""Two daphne processes sharing the Redis layer: a command posted to one reaches a device (and a
console) connected to the other, and the device's reports show up through either."""

from __future__ import annotations

import json
import time

import httpx

from apps.accounts.services import token_issue
from tests.helpers import ws_connect, ws_receive_json


def wait_for_state(server, token: str, command_id: str, state: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(
            f"{server.url}/api/v1/commands/{command_id}", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).json()
        if body["state"] == state or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def next_of_type(ws, kind: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = ws_receive_json(ws, timeout=max(0.1, deadline - time.monotonic()))
        if frame.get("type") == kind:
            return frame


def post(server, token: str, device_id: str, **body) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/devices/{device_id}/commands",
        json={"action": "start_recording", "reason": "Cross-process test", **body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_command_posted_on_one_process_reaches_a_device_and_console_on_the_other(
    live_server_pair, make_device, operator
):
    server_a, server_b = live_server_pair
    camera = make_device(kind="bodycam")
    token, _ = token_issue(user=operator)
    with (
        ws_connect(f"{server_a.ws_url}/ws/device/", token=camera.token) as device,
        ws_connect(f"{server_a.ws_url}/ws/console/", token=token) as console,
    ):
        time.sleep(0.2)  # both sockets have joined their groups
        response = post(server_b, token, camera.id)
        assert response.status_code == 202, response.text
        command_id = response.json()["id"]
        frame = next_of_type(device, "command")
        assert frame["command"]["id"] == command_id
        assert frame["command"]["reason"] == "Cross-process test"
        device.send(json.dumps({"type": "ack", "command_id": command_id}))
        device.send(json.dumps({"type": "result", "command_id": command_id, "ok": True}))
        body = wait_for_state(server_b, token, command_id, "succeeded")
        assert body["state"] == "succeeded"
        states = []
        while len(states) < 4:
            event = next_of_type(console, "command.update")
            if event["command"]["id"] == command_id:
                states.append(event["command"]["state"])
        assert states == ["queued", "sent", "delivered", "succeeded"]


def test_offline_delivery_on_connect_and_resend_after_a_drop_across_processes(live_server_pair, make_device, operator):
    server_a, server_b = live_server_pair
    camera = make_device(kind="bodycam")
    token, _ = token_issue(user=operator)
    first = post(server_b, token, camera.id, reason="one").json()["id"]
    second = post(server_a, token, camera.id, action="stop_recording", reason="two").json()["id"]
    # Offline until now: both arrive on connect, oldest first. The connection drops before any ack.
    with ws_connect(f"{server_a.ws_url}/ws/device/", token=camera.token) as device:
        received = [next_of_type(device, "command")["command"]["id"] for _ in range(2)]
    assert received == [first, second]
    assert wait_for_state(server_b, token, first, "sent")["state"] == "sent"
    # Reconnecting to the other process: both are sent again; the device acts once on each.
    with ws_connect(f"{server_b.ws_url}/ws/device/", token=camera.token) as device:
        again = [next_of_type(device, "command")["command"]["id"] for _ in range(2)]
        for command_id in again:
            device.send(json.dumps({"type": "ack", "command_id": command_id}))
            device.send(json.dumps({"type": "result", "command_id": command_id, "ok": True}))
        bodies = [wait_for_state(server_a, token, command_id, "succeeded") for command_id in again]
    assert again == [first, second]
    assert [body["state"] for body in bodies] == ["succeeded", "succeeded"]
    assert [body["send_count"] for body in bodies] == [2, 2]
