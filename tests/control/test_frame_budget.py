"""The device socket's frame budget (issue 13, item 5): a device flooding status frames is told,
its excess is dropped, and if it persists it is disconnected (4429), while other devices, the
API and the flooding device's own command answers go on; a closed socket reads offline at once."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import httpx
import pytest
from django.utils import timezone
from websockets.exceptions import ConnectionClosed

from apps.accounts.services import token_issue
from apps.devices.models import Device
from tests.control.conftest import receive, run
from tests.control.test_delivery import connect, create, wait_state
from tests.helpers import wait_for, ws_connect, ws_receive_json


@pytest.mark.django_db(transaction=True)
def test_command_answers_are_never_starved_by_status_spam(operator, bodycam, settings):
    settings.RTCC_DEVICE_FRAME_RATE = 1
    settings.RTCC_DEVICE_FRAME_BURST = 3
    settings.RTCC_DEVICE_FLOOD_CLOSE_AFTER = 3600
    command = create(bodycam, operator)

    async def scenario():
        device = await connect(bodycam)
        assert (await receive(device))["command"]["id"] == str(command.pk)
        await wait_state(str(command.pk), "sent")
        for n in range(30):
            await device.send_json_to({"type": "status", "recording": False, "battery_pct": n})
        errors = []
        while not await device.receive_nothing(0.3):
            errors.append(await receive(device))
        # told once (at most once a second), not once per dropped frame
        assert [e["code"] for e in errors] == ["rate_limited"] and errors[0]["type"] == "error"
        assert errors[0]["message"]
        await device.send_json_to({"type": "ack", "command_id": str(command.pk)})
        await wait_state(str(command.pk), "delivered")
        await device.send_json_to({"type": "result", "command_id": str(command.pk), "ok": True})
        await wait_state(str(command.pk), "succeeded")
        await device.disconnect()

    run(scenario)
    # the dropped frames never reached presence: the row holds the last frame within the burst
    assert Device.objects.get(pk=bodycam.device.pk).battery_pct in (None, 0, 1, 2)


# The flooder's pace: 80 times its sustained budget (5 status frames a second). Bounded, so that
# the test client itself keeps up with the socket: a client sending flat out on a loaded machine
# fills the TCP window, and websockets' sync client then blocks in sendall holding the lock its
# reading thread needs, so it never reads the `rate_limited` frame nor the 4429 close.
FLOOD_FRAMES_PER_SECOND = 400
FLOOD_BATCH = 10
FLOOD_LIMIT_SECONDS = 120  # the flood goes on until the server ends it (or this, to fail the test)


def _flood(ws, outcome: dict) -> None:
    """Status frames at FLOOD_FRAMES_PER_SECOND until the server closes the socket, while a
    thread reads every frame the server sends."""
    reader = threading.Thread(target=_read_all, args=(ws, outcome), daemon=True)
    reader.start()
    n = 0
    pause = FLOOD_BATCH / FLOOD_FRAMES_PER_SECOND
    next_batch = time.monotonic()
    try:
        while time.monotonic() < outcome["until"] and "close" not in outcome:
            for _ in range(FLOOD_BATCH):
                ws.send(json.dumps({"type": "status", "recording": n % 2 == 0, "battery_pct": n % 100}))
                n += 1
            next_batch += pause
            time.sleep(max(0.0, next_batch - time.monotonic()))
    except ConnectionClosed:
        pass
    outcome["sent"] = n
    reader.join(FLOOD_LIMIT_SECONDS)


def _read_all(ws, outcome: dict) -> None:
    try:
        while True:
            frame = json.loads(ws.recv(timeout=FLOOD_LIMIT_SECONDS))
            outcome["codes"].append(frame.get("code"))
    except ConnectionClosed as exc:
        outcome["close"] = exc.rcvd.code if exc.rcvd else None
    except TimeoutError:
        pass


@pytest.mark.django_db(transaction=True)
def test_a_flooding_device_is_told_then_disconnected_while_others_go_on(live_server_process, make_device, it_user):
    flooder, flooder_token = (lambda d: (d.device, d.token))(make_device())
    other, other_token = (lambda d: (d.device, d.token))(make_device())
    token, _ = token_issue(user=it_user)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{live_server_process.url}/api/v1/devices"
    outcome: dict = {"codes": [], "until": time.monotonic() + FLOOD_LIMIT_SECONDS}

    def flood():
        with ws_connect(f"{live_server_process.ws_url}/ws/device/", token=flooder_token, timeout=60) as ws:
            _flood(ws, outcome)

    with ws_connect(f"{live_server_process.ws_url}/ws/device/", token=other_token, timeout=60) as calm:
        flooding = threading.Thread(target=flood, daemon=True)
        flooding.start()
        wait_for(lambda: list(outcome["codes"]), lambda codes: "rate_limited" in codes, timeout=60)
        # meanwhile another device's frames count and the API answers
        calm.send(json.dumps({"type": "status", "recording": False, "battery_pct": 42}))
        _assert_heard(f"{base}/{other.pk}", headers, battery_pct=42)
        assert httpx.get(f"{base}?kind=bodycam", headers=headers, timeout=30).status_code == 200
        flooding.join(FLOOD_LIMIT_SECONDS + 30)
        outcome["until"] = 0
        assert not flooding.is_alive()
        # told, then disconnected by the server with 4429: the flood never ran out by itself
        assert "rate_limited" in outcome["codes"]
        assert outcome.get("close") == 4429, outcome
        assert outcome["sent"] > 20 * FLOOD_BATCH  # far past the budget (5 a second, bursts of 20)
        # the calm device is still connected and heard
        calm.send(json.dumps({"type": "status", "recording": False, "battery_pct": 41}))
        _assert_heard(f"{base}/{other.pk}", headers, battery_pct=41)
    _assert_offline_while_fresh(f"{base}/{flooder.pk}", headers)


def _assert_heard(url: str, headers: dict, *, battery_pct: int) -> None:
    """The device's last status frame counted: the API shows it online with that battery level."""
    body = wait_for(
        lambda: httpx.get(url, headers=headers, timeout=30).json(), lambda body: body["battery_pct"] == battery_pct
    )
    assert body["battery_pct"] == battery_pct and body["online"] is True


def _assert_offline_while_fresh(url: str, headers: dict) -> None:
    """The device reads offline because its socket was counted down, not because its last sign of
    life grew stale (RTCC_PRESENCE_TIMEOUT, 120 s): a socket never counted down reads online until then."""
    body = wait_for(
        lambda: httpx.get(url, headers=headers, timeout=30).json(), lambda body: not body["online"], timeout=60
    )
    assert body["online"] is False
    assert (timezone.now() - datetime.fromisoformat(body["last_seen"])).total_seconds() < 120


@pytest.mark.django_db(transaction=True)
def test_a_device_that_closes_cleanly_after_a_burst_reads_offline_at_once(live_server_process, make_device, it_user):
    """Before: frames queued faster than handled kept the socket's disconnect behind them until
    daphne killed the consumer, which never counted the socket down: `online` for minutes."""
    made = make_device()
    device, device_token = made.device, made.token
    token, _ = token_issue(user=it_user)
    url = f"{live_server_process.url}/api/v1/devices/{device.pk}"

    with ws_connect(f"{live_server_process.ws_url}/ws/device/", token=device_token) as ws:
        until = time.monotonic() + 2
        n = 0
        while time.monotonic() < until:
            ws.send(json.dumps({"type": "status", "recording": n % 2 == 0, "battery_pct": n % 100}))
            n += 1
        assert ws_receive_json(ws)["code"] == "rate_limited"
    _assert_offline_while_fresh(url, {"Authorization": f"Bearer {token}"})


@pytest.mark.django_db(transaction=True)
def test_a_backlog_answered_at_once_beyond_the_answer_burst_is_all_taken(operator, bodycam, settings):
    """The answer budget is for answers nobody asked for: a device that answers every command of
    a backlog at once (60 commands, 120 frames, over a burst of 100) had 9 of them dropped, and
    those commands expired although they ran. A repeat of an answer still counts."""
    settings.RTCC_DEVICE_ANSWER_RATE = 1
    settings.RTCC_DEVICE_ANSWER_BURST = 2
    settings.RTCC_DEVICE_FLOOD_CLOSE_AFTER = 3600
    commands = [create(bodycam, operator) for _ in range(12)]

    async def scenario():
        device = await connect(bodycam)
        sent = [(await receive(device))["command"]["id"] for _ in commands]
        assert sorted(sent) == sorted(str(c.pk) for c in commands)
        for command_id in sent:
            await device.send_json_to({"type": "ack", "command_id": command_id})
            await device.send_json_to({"type": "result", "command_id": command_id, "ok": True})
        for command_id in sent:
            await wait_state(command_id, "succeeded")
        assert await device.receive_nothing(0.3)  # nothing was refused
        for _ in range(4):  # answers no longer owed: within the budget (2), then dropped
            await device.send_json_to({"type": "result", "command_id": sent[0], "ok": True})
        refused = await receive(device)
        assert refused["code"] == "rate_limited" and "ack/result" in refused["message"], refused
        await device.disconnect()

    run(scenario)
