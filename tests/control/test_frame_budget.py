"""The device socket's frame budget (issue 13, item 5): a device flooding status frames is told,
its excess is dropped, and if it persists it is disconnected (4429), while other devices, the
API and the flooding device's own command answers go on; a closed socket reads offline at once."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from apps.accounts.services import token_issue
from apps.devices.models import Device
from tests.control.conftest import receive, run
from tests.control.test_delivery import connect, create, wait_state
from tests.helpers import ws_connect, ws_receive_json


def _wait_for(fetch, check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


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


@pytest.mark.django_db(transaction=True)
def test_a_flooding_device_is_told_then_disconnected_while_others_go_on(live_server_process, make_device, it_user):
    flooder, flooder_token = (lambda d: (d.device, d.token))(make_device())
    other, other_token = (lambda d: (d.device, d.token))(make_device())
    token, _ = token_issue(user=it_user)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{live_server_process.url}/api/v1/devices"
    outcome: dict = {"codes": []}

    def flood():
        with ws_connect(f"{live_server_process.ws_url}/ws/device/", token=flooder_token) as ws:
            reader = threading.Thread(target=read, args=(ws,), daemon=True)
            reader.start()
            n = 0
            try:
                while time.monotonic() < outcome["until"]:
                    ws.send(json.dumps({"type": "status", "recording": n % 2 == 0, "battery_pct": n % 100}))
                    n += 1
            except ConnectionClosed:
                pass
            outcome["sent"] = n
            reader.join(5)

    def read(ws):
        try:
            while True:
                frame = json.loads(ws.recv(timeout=30))
                outcome["codes"].append(frame.get("code"))
        except ConnectionClosed as exc:
            outcome["close"] = exc.rcvd.code if exc.rcvd else None
            outcome["closed_at"] = time.monotonic()
        except TimeoutError:
            pass

    with ws_connect(f"{live_server_process.ws_url}/ws/device/", token=other_token) as calm:
        outcome["until"] = time.monotonic() + 30
        flooding = threading.Thread(target=flood, daemon=True)
        started = time.monotonic()
        flooding.start()
        time.sleep(1.5)
        # meanwhile another device's frames count and the API answers
        calm.send(json.dumps({"type": "status", "recording": False, "battery_pct": 42}))
        body = _wait_for(
            lambda: httpx.get(f"{base}/{other.pk}", headers=headers, timeout=10).json(),
            lambda body: body["battery_pct"] == 42,
        )
        assert body["battery_pct"] == 42 and body["online"] is True
        assert httpx.get(f"{base}?kind=bodycam", headers=headers, timeout=10).status_code == 200
        flooding.join(40)
        outcome["until"] = 0
        assert not flooding.is_alive()
        # told, then disconnected with 4429 well before the flood would have ended
        assert "rate_limited" in outcome["codes"]
        assert outcome.get("close") == 4429
        assert outcome["closed_at"] - started < 20
        # the calm device is still connected and heard
        calm.send(json.dumps({"type": "status", "recording": False, "battery_pct": 41}))
        body = _wait_for(
            lambda: httpx.get(f"{base}/{other.pk}", headers=headers, timeout=10).json(),
            lambda body: body["battery_pct"] == 41,
        )
        assert body["battery_pct"] == 41 and body["online"] is True
    # the disconnected flooder reads offline once its socket is gone
    body = _wait_for(
        lambda: httpx.get(f"{base}/{flooder.pk}", headers=headers, timeout=10).json(),
        lambda body: not body["online"],
        timeout=30,
    )
    assert body["online"] is False and time.monotonic() - outcome["closed_at"] < 3


@pytest.mark.django_db(transaction=True)
def test_a_device_that_closes_cleanly_after_a_burst_reads_offline_at_once(live_server_process, make_device, it_user):
    """Before: frames queued faster than handled kept the socket's disconnect behind them until
    daphne killed the consumer, which never counted the socket down: `online` for minutes."""
    made = make_device()
    device, device_token = made.device, made.token
    token, _ = token_issue(user=it_user)
    url = f"{live_server_process.url}/api/v1/devices/{device.pk}"

    def fetch():
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()

    with ws_connect(f"{live_server_process.ws_url}/ws/device/", token=device_token) as ws:
        until = time.monotonic() + 2
        n = 0
        while time.monotonic() < until:
            ws.send(json.dumps({"type": "status", "recording": n % 2 == 0, "battery_pct": n % 100}))
            n += 1
        assert ws_receive_json(ws)["code"] == "rate_limited"
    closed = time.monotonic()
    body = _wait_for(fetch, lambda body: not body["online"], timeout=8)
    assert body["online"] is False and time.monotonic() - closed < 8
