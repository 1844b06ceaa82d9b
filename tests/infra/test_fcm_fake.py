"""The project's FCM fake (infra/fakes/fcm_server.py) answers as FCM's HTTP v1 API does: the
tests, the push benchmark and the demo rely on these answers, so they are pinned here."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from infra.launch import free_port
from tests.helpers import ROOT

pytestmark = pytest.mark.once
FAKE = ROOT / "infra" / "fakes" / "fcm_server.py"
SEND = "/v1/projects/rtcc-local/messages:send"
AUTH = {"Authorization": "Bearer fake"}


@pytest.fixture(scope="module")
def fake_port():
    port = free_port()
    process = subprocess.Popen([sys.executable, str(FAKE), "--port", str(port)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_stats", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("the FCM fake did not start")
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def fake(fake_port):
    client = httpx.Client(base_url=f"http://127.0.0.1:{fake_port}", timeout=5)
    client.post("/_reset").raise_for_status()
    yield client
    client.close()


def send(fake, token: str, **extra) -> httpx.Response:
    message = {"token": token, "data": {"kind": "briefing"}, **extra}
    return fake.post(SEND, json={"message": message}, headers=AUTH)


def fcm_code(response: httpx.Response) -> str | None:
    for detail in response.json()["error"]["details"]:
        if detail["@type"].endswith("FcmError"):
            return detail["errorCode"]
    return None


def test_a_healthy_token_is_accepted_and_kept_for_inspection(fake):
    response = send(fake, "phone-1")
    assert response.status_code == 200
    assert response.json()["name"] == "projects/rtcc-local/messages/1"
    send(fake, "phone-2")
    kept = fake.get("/_messages", params={"token": "phone-1"}).json()
    assert [m["message"]["data"] for m in kept] == [{"kind": "briefing"}]
    assert len(fake.get("/_messages").json()) == 2
    stats = fake.get("/_stats").json()
    assert stats["counts"]["accepted"] == 2
    assert stats["first_at"] <= stats["last_at"]


@pytest.mark.parametrize(
    ("token", "http", "status", "code"),
    [
        ("unreg-1", 404, "NOT_FOUND", "UNREGISTERED"),
        ("invalid-1", 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
        ("mismatch-1", 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    ],
)
def test_token_prefixes_fail_every_time_as_fcm_does(fake, token, http, status, code):
    for _ in range(2):
        response = send(fake, token)
        assert response.status_code == http
        assert response.json()["error"]["status"] == status
        assert fcm_code(response) == code
    assert fake.get("/_messages").json() == []


@pytest.mark.parametrize(
    ("token", "http", "code", "retry_after"),
    [("flaky-1", 503, "UNAVAILABLE", None), ("quota-1", 429, "QUOTA_EXCEEDED", "1")],
)
def test_transient_prefixes_fail_once_then_accept(fake, token, http, code, retry_after):
    first = send(fake, token)
    assert first.status_code == http
    assert fcm_code(first) == code
    assert first.headers.get("Retry-After") == retry_after
    assert send(fake, token).status_code == 200


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"data": {}}, "message"),
        ({"token": "a", "topic": "b"}, "message"),
        ({"token": "a", "data": {"n": 1}}, "message.data"),
        ({"token": "a", "data": {"x": "y" * 5000}}, "message.data"),
        ({"token": "a", "android": {"priority": "urgent"}}, "message.android.priority"),
        ({"token": "a", "android": {"priority": ["high"]}}, "message.android.priority"),
        ({"token": "a", "android": {"priority": {"p": "high"}}}, "message.android.priority"),
    ],
)
def test_a_malformed_message_is_a_payload_error_not_a_token_error(fake, message, field):
    response = fake.post(SEND, json={"message": message}, headers=AUTH)
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert [d["fieldViolations"][0]["field"] for d in details if d["@type"].endswith("BadRequest")] == [field]
    assert fcm_code(response) is None


def test_no_bearer_is_unauthenticated(fake):
    response = fake.post(SEND, json={"message": {"token": "a"}})
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_faults_outage_latency_and_reset(fake):
    assert fake.post("/_faults", json={"bogus": 1}).status_code == 400
    assert fake.post("/_faults", json={"outage": True}).json()["outage"] is True
    response = send(fake, "phone-1")
    assert response.status_code == 503 and fcm_code(response) == "UNAVAILABLE"
    fake.post("/_faults", json={"outage": False, "latency_ms": 300})
    started = time.monotonic()
    assert send(fake, "phone-1").status_code == 200
    assert time.monotonic() - started >= 0.3
    fake.post("/_reset")
    stats = fake.get("/_stats").json()
    assert stats["counts"] == {} and stats["faults"] == {"latency_ms": 0, "unavailable_rate": 0.0, "outage": False}
    assert fake.get("/_messages").json() == []


def test_validate_only_is_answered_but_not_kept(fake):
    response = fake.post(SEND, json={"message": {"token": "phone-1"}, "validate_only": True}, headers=AUTH)
    assert response.status_code == 200
    assert fake.get("/_messages").json() == []


def test_the_credentials_file_signs_requests_google_auth_accepts(fake, fake_port):
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    done = subprocess.run(
        [sys.executable, str(FAKE), "credentials", "--port", str(fake_port)], capture_output=True, text=True, check=True
    )
    info = json.loads(done.stdout)
    assert info["token_uri"] == f"http://127.0.0.1:{fake_port}/token"
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    credentials.refresh(Request())
    headers = {"Authorization": f"Bearer {credentials.token}"}
    response = fake.post(SEND, json={"message": {"token": "phone-1"}}, headers=headers)
    assert response.status_code == 200
    # The token exchange, for a service account whose universe uses it.
    exchanged = fake.post("/token", data={"grant_type": "jwt-bearer", "assertion": credentials.token})
    assert exchanged.json()["access_token"].startswith("fake-")
