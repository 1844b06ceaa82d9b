"""The fleet simulator: provisions over the API, connects, reports status, obeys commands once."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.core.management import call_command

from apps.accounts.services import token_issue
from apps.devices.models import Device
from apps.simulator.fleet import DeviceState, Fleet


def _state() -> DeviceState:
    return DeviceState(id="d1", serial="S1", kind="bodycam", token="rtd_x", base_url="http://127.0.0.1:1")


def test_commands_are_acted_on_once_per_id():
    stopped = []
    fleet = Fleet("http://127.0.0.1:1", count=1, on_recording_stopped=lambda *args: stopped.append(args))
    state = _state()
    sent: list[dict] = []

    async def send(frame):
        sent.append(frame)

    async def scenario():
        start = {"id": "c1", "action": "start_recording", "reason": "test"}
        await fleet.handle_command(state, start, send)
        assert state.recording and state.recording_id
        recording_id = state.recording_id
        await fleet.handle_command(state, start, send)  # the same command again: acknowledged, not redone
        assert state.recording_id == recording_id
        await fleet.handle_command(state, {"id": "c2", "action": "stop_recording", "reason": "t"}, send)
        await fleet.handle_command(state, {"id": "c2", "action": "stop_recording", "reason": "t"}, send)
        await fleet.handle_command(state, {"id": "c3", "action": "self_destruct", "reason": "t"}, send)
        await asyncio.gather(*fleet._hooks)
        return recording_id

    recording_id = asyncio.run(scenario())
    assert not state.recording
    assert state.commands_acted == 3
    assert len(stopped) == 1 and stopped[0][1] == recording_id and stopped[0][2] < stopped[0][3]
    kinds = [(f["type"], f.get("command_id")) for f in sent]
    assert kinds[:3] == [("ack", "c1"), ("result", "c1"), ("status", None)]
    assert kinds.count(("ack", "c1")) == 2 and kinds.count(("result", "c1")) == 2
    results = [f for f in sent if f["type"] == "result"]
    assert [r["ok"] for r in results] == [True, True, True, True, False]
    assert "error" in results[-1]
    statuses = [f for f in sent if f["type"] == "status"]
    assert statuses[0]["recording"] is True and statuses[-1]["recording"] is False


def test_waiting_for_connections_ends_when_the_fleet_is_asked_to_stop():
    # The demo killed while its fleet still connected: the server is gone, and SIGTERM must end
    # the wait at once, not after its full minute (the process outlived the demo by 60 s).
    fleet = Fleet("http://127.0.0.1:1", count=1)
    fleet.devices = [_state()]  # a server that never answers: it never connects

    async def scenario():
        asyncio.get_running_loop().call_later(0.2, fleet.request_stop)
        started = time.monotonic()
        connected = await fleet.wait_connected(timeout=60)
        return connected, time.monotonic() - started

    connected, waited = asyncio.run(scenario())
    assert not connected and waited < 10


def test_status_frames_stay_in_range():
    import random

    state = _state()
    state.lat, state.lon = 40.0, -74.0
    rng = random.Random(1)
    for _ in range(2000):
        state.tick((40.0, -74.0), rng)
        frame = state.status_frame()
        assert 0 <= frame["battery_pct"] <= 100 and frame["storage_free_mb"] >= 0
        assert abs(frame["location"]["lat"] - 40.0) <= 0.0101 and frame["location"]["accuracy_m"] >= 0


@pytest.mark.django_db(transaction=True)
def test_simulator_against_a_live_server(live_server_process, make_user):
    it = make_user("it", username="simit")
    token, _ = token_issue(user=it)
    operator_headers = {"Authorization": f"Bearer {token_issue(user=make_user('operator'))[0]}"}
    fleet = Fleet(
        live_server_process.url,
        count=3,
        kind="mixed",
        username="simit",
        password="correct-horse-battery",
        status_interval=0.2,
        prefix="T",
    )

    async def run():
        async with fleet:
            await fleet.provision()
            fleet.start()
            assert await fleet.wait_connected(timeout=20)
            await asyncio.sleep(0.6)
            listed = (await fleet.http.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})).json()
            # an operator's command reaches a simulated camera, which obeys it and reports back
            camera = fleet.devices[1]
            command = (
                await fleet.http.post(
                    f"/api/v1/devices/{camera.id}/commands",
                    headers=operator_headers,
                    json={"action": "start_recording", "reason": "simulator test"},
                )
            ).json()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                state = (await fleet.http.get(f"/api/v1/commands/{command['id']}", headers=operator_headers)).json()
                if state["state"] == "succeeded" and camera.recording:
                    break
                await asyncio.sleep(0.05)
            shown = (await fleet.http.get(f"/api/v1/devices/{camera.id}", headers=operator_headers)).json()
            for _ in range(100):
                if shown["recording"]:
                    break
                await asyncio.sleep(0.05)
                shown = (await fleet.http.get(f"/api/v1/devices/{camera.id}", headers=operator_headers)).json()
            obeyed = (state["state"], camera.recording, shown["recording"], camera.commands_acted)
            # revoked: the server closes its socket with 4403 and the simulator leaves that device alone
            victim = fleet.devices[0]
            revoked = await fleet.http.post(
                f"/api/v1/devices/{victim.id}/revoke", headers={"Authorization": f"Bearer {token}"}
            )
            assert revoked.status_code == 200
            deadline = time.monotonic() + 10
            while not victim.stopped and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return fleet.summary(), listed, obeyed

    summary, listed, obeyed = asyncio.run(run())
    assert obeyed == ("succeeded", True, True, 1)
    assert summary["devices"] == 3 and summary["frames_sent"] >= 3
    assert sorted(Device.objects.values_list("kind", flat=True)) == ["bodycam", "bodycam", "phone"]
    assert all(d.enrolled_at for d in Device.objects.all())
    assert listed["count"] == 3
    assert all(row["online"] and row["battery_pct"] is not None and row["location"] for row in listed["results"])
    victim, *others = fleet.devices
    assert victim.stopped and victim.close_code == 4403
    assert all(not d.stopped and d.connects == 1 for d in others)

    # a second run reuses the same serials: re-enrolled, not registered again
    again = Fleet(live_server_process.url, count=3, kind="mixed", it_token=token, prefix="T")

    async def rerun():
        async with again:
            return await again.provision()

    # the revoked camera's serial is registered again, as a new device that replaces it
    states = asyncio.run(rerun())
    assert Device.objects.count() == 4
    replacement = Device.objects.get(replaces__serial=victim.serial)
    assert replacement.serial == victim.serial and replacement.pk != victim.id and replacement.enrolled_at
    assert Device.objects.get(pk=victim.id).revoked_at is not None
    assert sorted(str(s.id) for s in states) == sorted(
        str(pk) for pk in Device.objects.filter(revoked_at__isnull=True).values_list("pk", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_simulate_fleet_command(live_server_process, capsys):
    call_command("simulate_fleet", count=2, url=live_server_process.url, kind="phone", interval=0.2, duration=1.0)
    out = capsys.readouterr().out
    assert "enrolled 2 device(s)" in out and "stopped:" in out
    assert Device.objects.filter(kind="phone", enrolled_at__isnull=False).count() == 2
