"""Revocation reaches a live socket held by another daphne process (Redis channel layer)."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from apps.accounts.services import token_issue
from tests.helpers import ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


def test_revoke_on_one_process_closes_socket_on_the_other(live_server_pair, enrolled, it_user):
    device, token = enrolled("bodycam")
    it_token, _ = token_issue(user=it_user)
    holder, other = live_server_pair
    with ws_connect(f"{holder.ws_url}/ws/device/", token=token) as ws:
        # the socket works: a status frame is taken (no error comes back)
        ws.send(json.dumps({"type": "status", "recording": False, "battery_pct": 50}))
        response = httpx.post(
            f"{other.url}/api/v1/devices/{device.pk}/revoke",
            headers={"Authorization": f"Bearer {it_token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(
                    timeout=30
                )  # it arrives at once; the wait is long only so that a loaded machine is slow, not failing
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    # the token is dead for HTTP and for a new socket, on both processes
    for server in (holder, other):
        me = httpx.get(f"{server.url}/api/v1/device", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert me.status_code == 401
        with ws_connect(f"{server.ws_url}/ws/device/", token=token) as ws:
            with pytest.raises(ConnectionClosed) as refused:
                ws.recv(timeout=5)
            assert refused.value.rcvd.code == 4403  # a revoked device's token: known, no longer allowed


def test_re_enrollment_closes_the_old_socket(live_server_pair, enrolled, it_user):
    """A factory-reset camera enrolls again: whatever still holds the old token is cut off."""
    from apps.devices import services

    device, token = enrolled("bodycam")
    holder, _ = live_server_pair
    with ws_connect(f"{holder.ws_url}/ws/device/", token=token) as ws:
        ws.send(json.dumps({"type": "status", "recording": False}))
        code = services.enrollment_reissue(device=device, actor=it_user)
        services.device_enroll(serial=device.serial, code=code)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4403
