"""Fault drills against real processes (issue 13, "Kept fixed, in CI" part 3).

One stack for the module: a private PostgreSQL cluster, Redis and SeaweedFS (restarted at will,
never the shared ones), two daphne processes, a prefork `celery worker` and `celery beat`, the FCM fake;
simulated bodycams on the real device websocket; commands posted by an operator over the API
while a fault strikes. After each drill: every command answered 202 (or stored without an
answer) delivered and succeeded exactly once, every 5xx matched by nothing stored, every
officer notice sent exactly once to its phone, and the service healthy again with no restart
by hand (/readyz on every web process, then a fresh command end to end). The clip drills also
upload clips (tests/drills/clips.py): every clip ends verified, none corrupt, each 5xx answered
to a declare or complete matched by nothing stored, and a fresh clip is verified end to end. The figures are
printed per drill (pytest -s shows them; they also go to tests/artifacts/drills.txt).

Run only the drills: `python3 infra/dev.py test -- tests/drills -s`. Bigger: see harness.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests import services

from .clips import BIG_CLIP_MIB, ClipLoad, fresh_clip
from .harness import (
    COMMANDS,
    DEVICES,
    DRAIN_TIMEOUT,
    RATE,
    ConsoleListener,
    Fleet,
    Stack,
    fcm_notices,
    wait_healthy,
)

pytestmark = [pytest.mark.drill]
FIGURES = Path(__file__).resolve().parent.parent / "artifacts" / "drills.txt"


@pytest.fixture(scope="module")
def stack(redis_url):  # redis_url: a services run (the drill starts its own Redis and PostgreSQL)
    import glob
    import shutil

    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") or not shutil.which("redis-server"):
        message = "the drills need redis-server and PostgreSQL's server binaries (infra/ci/system-packages.sh)"
        if services.IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    stack = Stack()
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def fleet(stack):
    seed = stack.seed(DEVICES)
    fleet = Fleet(cameras=seed["cameras"], urls=[d.url for d in stack.daphnes])
    fleet.operator_token = seed["operator_token"]
    fleet.start()
    time.sleep(2)  # every camera connected
    yield fleet
    fleet.stop()


def drill(
    stack: Stack, fleet: Fleet, fcm: str, name: str, fault=None, *, fault_at: float = 1.5, clips: ClipLoad | None = None
) -> dict:
    """Commands at RATE a second (and `clips` uploading) while `fault` runs `fault_at` seconds in;
    then the checks."""
    httpx.post(f"{fcm}/_reset", timeout=5)
    if clips is not None:
        clips.start()
    thread = None
    if fault is not None:

        def strike() -> None:
            time.sleep(fault_at)
            fault()

        thread = threading.Thread(target=strike)
        thread.start()
    outcomes = fleet.run(fleet.post_commands(fleet.operator_token, count=COMMANDS, rate=RATE, tag=name))
    if thread is not None:
        thread.join()
    wait_healthy(stack)

    # Drain: every stored command succeeded (or the deadline passes).
    reasons = [o.reason for o in outcomes]
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        report = stack.report(reasons)
        stored = report["commands"]
        if all(row["state"] == "succeeded" for row in stored.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)

    answered_5xx = [o for o in outcomes if o.status is not None and o.status >= 500]
    no_answer = [o for o in outcomes if o.status is None]
    other_4xx = [o for o in outcomes if o.status is not None and 400 <= o.status < 500]
    issued = [o for o in outcomes if o.status == 202 or (o.status is None and o.reason in stored)]
    issued_rows = [stored.get(o.reason) for o in issued]
    delivered_once = [
        row for row in issued_rows if row and row["state"] == "succeeded" and row["succeeded_events"] == 1
    ]
    lost = [o for o, row in zip(issued, issued_rows, strict=True) if not row or row["state"] != "succeeded"]
    duplicated = [row for row in issued_rows if row and row["succeeded_events"] > 1]
    acted_twice = [cid for cid, n in fleet.acted.items() if n > 1]
    stored_5xx = [o for o in answered_5xx if o.reason in stored]

    # Officer notices: one per succeeded command on the officer's phone (FCM may lag: wait).
    phone_of = {o.reason: o.camera["phone_token"] for o in issued}
    expected = {(phone_of[o.reason], row["id"]) for o, row in zip(issued, issued_rows, strict=True) if row}
    tokens = {token for token, _ in expected}
    deadline = time.monotonic() + 60
    while True:
        notices = fcm_notices(fcm, tokens)
        if all(notices[key] >= 1 for key in expected) or time.monotonic() > deadline:
            break
        time.sleep(1)
    time.sleep(1)
    notices = fcm_notices(fcm, tokens)
    notices_lost = [key for key in expected if notices[key] == 0]
    notices_twice = [key for key in expected if notices[key] > 1]

    # A fresh command end to end.
    camera = fleet.cameras[0]
    fresh = httpx.post(
        f"{stack.daphnes[0].url}/api/v1/devices/{camera['id']}/commands",
        json={"action": "stop_recording", "reason": f"drill {name} fresh"},
        headers={"Authorization": f"Bearer {fleet.operator_token}"},
        timeout=15,
    )
    assert fresh.status_code == 202, fresh.text
    fresh_id = fresh.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        state = httpx.get(
            f"{stack.daphnes[1].url}/api/v1/commands/{fresh_id}",
            headers={"Authorization": f"Bearer {fleet.operator_token}"},
            timeout=15,
        ).json()["state"]
        if state == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.3)

    figures = {
        "drill": name,
        "posted": len(outcomes),
        "issued": len(issued),
        "delivered_once": len(delivered_once),
        "lost": len(lost),
        "duplicated": len(duplicated) + len(acted_twice),
        "answered_5xx": len(answered_5xx),
        "5xx_stored": len(stored_5xx),
        "no_answer": len(no_answer),
        "4xx": len(other_4xx),
        "notices_sent": sum(notices[key] for key in expected),
        "notices_lost": len(notices_lost),
        "notices_twice": len(notices_twice),
        "fresh_command": state,
    }
    clip_problems: dict = {}
    if clips is not None:
        clip_figures, clip_problems = clips.check()
        figures.update(clip_figures)
        figures["fresh_clip"] = fresh_clip(stack, fleet.cameras[0], name)
    line = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[drill] {line}", flush=True)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with open(FIGURES, "a") as out:
        out.write(line + "\n")

    problems = {
        "lost": [o.reason for o in lost][:5],
        "duplicated": duplicated[:5] + acted_twice[:5],
        "5xx_stored": [o.reason for o in stored_5xx][:5],
        "4xx": [(o.reason, o.status) for o in other_4xx][:5],
        "notices_lost": notices_lost[:5],
        "notices_twice": notices_twice[:5],
        **clip_problems,
    }
    assert not any(problems.values()), f"{line}\n{problems}\n{stack.logs()}"
    assert state == "succeeded", f"fresh command {state}\n{stack.logs()}"
    assert figures.get("fresh_clip", "available") == "available", f"fresh clip {figures['fresh_clip']}\n{stack.logs()}"
    return figures


def test_baseline_no_fault_and_readyz_ready_under_a_connected_fleet(stack, fleet, fcm):
    wait_healthy(stack)  # the worker and beat have started
    for daphne in stack.daphnes:
        response = httpx.get(f"{daphne.url}/readyz", timeout=10)
        assert response.status_code == 200, response.text  # item 12: ready while the fleet is connected
        assert response.json()["checks"]["worker"] == "ok"
    drill(stack, fleet, fcm, "baseline")


def test_kill_9_a_daphne_holding_device_sockets(stack, fleet, fcm):
    victim = stack.daphnes[0]

    def fault() -> None:
        victim.kill()  # its devices fail over to the other process
        time.sleep(2)
        victim.start()  # the process manager starts it again

    drill(stack, fleet, fcm, "kill-daphne", fault)


def test_restart_redis(stack, fleet, fcm):
    # An operator's console open on each web process through the restart (it is not reopened).
    consoles = [ConsoleListener(url=d.url, token=fleet.operator_token) for d in stack.daphnes]
    for console in consoles:
        fleet.tasks.append(asyncio.run_coroutine_threadsafe(console.listen(), fleet.loop))
    time.sleep(1)

    logged_before = {d.log_path: d.log_path.stat().st_size for d in stack.daphnes}

    def fault() -> None:
        stack.redis.restart(down_for=2)

    drill(stack, fleet, fcm, "restart-redis", fault)
    assert stack.worker.alive, "the worker died with the broker restart (item 10)"
    # Each device socket refused while Redis was down is one warning line, not also daphne's
    # "Exception inside application" with a traceback (52 of them in one such drill).
    for path, size in logged_before.items():
        with open(path, errors="replace") as log:
            log.seek(size)
            logged = log.read()
        assert "device socket closed: the channel layer cannot be reached" in logged
        assert "Exception inside application" not in logged, logged[-3000:]

    # The consoles still get events: a command posted now shows up on both sockets.
    camera = fleet.cameras[-1]
    posted = httpx.post(
        f"{stack.daphnes[0].url}/api/v1/devices/{camera['id']}/commands",
        json={"action": "stop_recording", "reason": "drill restart-redis console"},
        headers={"Authorization": f"Bearer {fleet.operator_token}"},
        timeout=15,
    )
    assert posted.status_code == 202, posted.text
    command_id = posted.json()["id"]
    deadline = time.monotonic() + 30  # at most a rejoin period (RTCC_GROUP_REJOIN, 10 s) and then some
    while not all(c.saw_command(command_id) for c in consoles) and time.monotonic() < deadline:
        time.sleep(0.2)
    heard = [c.saw_command(command_id) for c in consoles]
    with open(FIGURES, "a") as out:
        out.write(
            f"drill=restart-redis consoles_open={sum(c.closed is None for c in consoles)} "
            f"consoles_hearing_after_restart={sum(heard)}/{len(consoles)}\n"
        )
    assert all(c.closed is None for c in consoles), [c.closed for c in consoles]
    assert all(heard), f"console sockets deaf after the Redis restart: {heard}\n{stack.logs()}"


def test_restart_postgresql(stack, fleet, fcm):
    def fault() -> None:
        stack.pg.restart(down_for=2)

    drill(stack, fleet, fcm, "restart-postgres", fault)


def test_postgresql_down_is_a_503_everywhere(stack, fleet, fcm):
    """While PostgreSQL is down: /readyz says so within its own probe timeout (not the pool's
    10 s), the API answers 503 in the envelope without waiting out the pool (a command POST too,
    which tries the event loop's pool first: it took 15 s), a console page 503 with a page (a
    session read fails before any view runs); nothing is a 500. Then everything heals by itself."""
    web = stack.daphnes[0].url
    auth = {"Authorization": f"Bearer {fleet.operator_token}"}
    camera = fleet.cameras[0]["id"]
    stack.pg.stop("immediate")
    try:
        ready = httpx.get(f"{web}/readyz", timeout=8)  # the pool alone would have held it 10 s
        # The pools stop waiting once PostgreSQL refused them: well within these 5 s, each.
        api = httpx.get(f"{web}/api/v1/devices", headers=auth, timeout=5)
        command = httpx.post(
            f"{web}/api/v1/devices/{camera}/commands",
            headers=auth,
            json={"action": "start_recording", "reason": "drill: database down", "ttl_seconds": 600},
            timeout=5,
        )
        page = httpx.get(f"{web}/", cookies={"sessionid": "a-session-from-before-the-outage"}, timeout=30)
        logged_from = stack.daphnes[0].log_path.stat().st_size
        socket_closed = asyncio.run(device_socket_closed(web, fleet.cameras[1]["token"]))
    finally:
        stack.pg.start()
    # A device connecting meanwhile is accepted and closed with 1011 (reconnect with the backoff),
    # one warning line: its handshake failed with a 500 and daphne logged a traceback for each.
    assert socket_closed == 1011, socket_closed
    with open(stack.daphnes[0].log_path, errors="replace") as log:
        log.seek(logged_from)
        logged = log.read()
    assert "device socket closed: the database cannot be reached" in logged, logged[-3000:]
    assert "Exception inside application" not in logged, logged[-3000:]
    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["database"] == "error: connection refused"
    for answer in (api, command):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "unavailable"
        assert answer.headers["Retry-After"] == "2"
    assert page.status_code == 503, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in page.text
    wait_healthy(stack)
    assert httpx.get(f"{web}/api/v1/devices", headers=auth, timeout=30).status_code == 200


async def device_socket_closed(web: str, token: str) -> int | str | None:
    """How the server ends a device socket opened now: its close code (None: no close frame), or
    "open" if it stayed open for 10 s."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with connect(
        f"{web.replace('http://', 'ws://')}/ws/device/",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=10,
        close_timeout=1,
    ) as ws:
        try:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        except TimeoutError:
            return "open"


def test_kill_the_worker_mid_push_batch(stack, fleet, fcm):
    # Slow FCM answers keep notices in flight when the worker dies.
    httpx.post(f"{fcm}/_faults", json={"latency_ms": 300}, timeout=5)

    def fault() -> None:
        time.sleep(1.5)
        stack.worker.kill()
        time.sleep(1)
        httpx.post(f"{fcm}/_faults", json={"latency_ms": 0}, timeout=5)
        stack.worker.start()  # the process manager starts it again

    try:
        drill(stack, fleet, fcm, "kill-worker", fault)
    finally:
        httpx.post(f"{fcm}/_faults", json={"latency_ms": 0}, timeout=5)


def test_fcm_down(stack, fleet, fcm):
    def fault() -> None:
        httpx.post(f"{fcm}/_faults", json={"outage": True}, timeout=5)
        time.sleep(4)
        httpx.post(f"{fcm}/_faults", json={"outage": False}, timeout=5)

    drill(stack, fleet, fcm, "fcm-down", fault)


def test_kill_9_the_worker_mid_clip_verification(stack, fleet, fcm):
    """A big clip is being read when the worker dies: its lease runs out and the verify sweep has
    it read again by the restarted worker; the redelivered task finds nothing to do."""
    clips = ClipLoad(stack, fleet.cameras, tag="kill-worker-verify", big_mib=BIG_CLIP_MIB)
    seen: dict = {}

    def fault() -> None:
        clips.wait_claimed(clips.big)  # the worker is reading the big clip
        stack.worker.kill()
        seen["mid_read"] = clips.claimed(clips.big)  # killed before its verdict
        time.sleep(1)
        stack.worker.start()  # the process manager starts it again
        clips.recovered_at = time.time()

    figures = drill(stack, fleet, fcm, "kill-worker-mid-verify", fault, fault_at=0, clips=clips)
    assert seen["mid_read"], "the worker finished verifying before it was killed: use a bigger clip"
    assert figures["clip_verify_attempts_max"] >= 2  # the big clip was read again after the kill


def test_s3_unavailable_during_uploads(stack, fleet, fcm):
    """The store goes away while clips are declared, uploaded and completed: 503 with Retry-After
    (nothing stored), the cameras retry, every clip ends verified."""
    clips = ClipLoad(stack, fleet.cameras, tag="s3-down-upload", spread=1.0)

    def fault() -> None:
        stack.s3.stop()
        time.sleep(8)
        stack.s3.start()
        clips.recovered_at = time.time()

    drill(stack, fleet, fcm, "s3-down-upload", fault, fault_at=2.0, clips=clips)


def test_s3_unavailable_during_verification(stack, fleet, fcm):
    """The store goes away while a big clip is being read: the clip stays `verifying` (never
    `corrupt`), retried with backoff, and is verified soon after the store is back."""
    # Twice the other drills' big clip, and the store killed outright the moment the read starts:
    # on a quiet machine a 512 MiB clip is read and hashed in under a second.
    clips = ClipLoad(stack, fleet.cameras, tag="s3-down-verify", big_mib=2 * BIG_CLIP_MIB)
    seen: dict = {}

    def fault() -> None:
        clips.wait_claimed(clips.big)
        stack.s3.crash()
        seen["mid_read"] = clips.claimed(clips.big)
        time.sleep(8)
        stack.s3.start()
        clips.recovered_at = time.time()

    drill(stack, fleet, fcm, "s3-down-verify", fault, fault_at=0, clips=clips)
    assert seen["mid_read"], "the clip was verified before the store went away: use a bigger clip"
