"""The FCM backend when FCM gives no answer: each send is retried, and the worker's log says so."""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta

import pytest

from apps.integrations import push
from tests.helpers import free_port, service_account_stand_in

pytestmark = pytest.mark.filterwarnings("ignore:Message.token is deprecated")


@pytest.fixture
def silent_port():
    """A port that takes connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


def backend_at(endpoint: str, transport: str, tmp_path) -> push.FcmBackend:
    credentials = tmp_path / "sa.json"
    credentials.write_text(service_account_stand_in())
    backend = push.FcmBackend(str(credentials), endpoint, timeout=0.5, transport=transport)
    # An access token as if exchanged already: the token exchange is not what this is about.
    backend._credential.token = "test-access-token"
    backend._credential.expiry = datetime.utcnow() + timedelta(hours=1)  # google-auth's expiry is naive UTC
    return backend


@pytest.mark.parametrize("transport", ["aiohttp", "firebase-admin"])
@pytest.mark.parametrize("where", ["refused", "silent"])
def test_sends_fcm_never_answers_leave_one_warning_per_batch_without_tokens(
    transport, where, tmp_path, caplog, silent_port
):
    """An FCM outage (or a firewall) left no line in any log: each message's timeout or refused
    connection was only recorded on its delivery, and briefings stayed queued with no word why."""
    port = silent_port if where == "silent" else free_port()
    backend = backend_at(f"http://127.0.0.1:{port}", transport, tmp_path)
    tokens = [f"secret-push-token-{i}" for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="apps.integrations.push"):
        results = backend.send_batch([push.PushMessage(token=t, data={"type": "ping"}) for t in tokens])
    assert [(r.ok, r.retry) for r in results] == [(False, True)] * 3
    [record] = [r for r in caplog.records if r.name == "apps.integrations.push"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("FCM gave no answer to 3 of 3 messages (first: "), message
    assert "127.0.0.1" in message
    assert "secret-push-token" not in message


def test_a_batch_fcm_answers_leaves_no_warning(tmp_path, caplog, monkeypatch):
    backend = backend_at(f"http://127.0.0.1:{free_port()}", "aiohttp", tmp_path)
    answered = [push.classify("t", status=503, body=b"", headers={})]
    monkeypatch.setattr(backend, "_send_aiohttp", lambda chunk: answered)
    with caplog.at_level(logging.WARNING, logger="apps.integrations.push"):
        assert backend.send_batch([push.PushMessage(token="t", data={})]) == answered
    assert not caplog.records
