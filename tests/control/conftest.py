"""Devices with real tokens made straight in the database, and websocket helpers for control tests."""

from __future__ import annotations

import itertools
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.utils import timezone

_serials = itertools.count(1)


@dataclass
class FleetDevice:
    device: object
    token: str

    @property
    def id(self) -> str:
        return str(self.device.pk)

    @property
    def auth(self) -> list[tuple[bytes, bytes]]:
        return [(b"authorization", f"Bearer {self.token}".encode())]


def create_device(
    *, kind: str = "bodycam", officer=None, push_token: str | None = None, revoked: bool = False, label: str = ""
) -> FleetDevice:
    """A device enrolled with a real token, without the enrollment endpoint."""
    from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token
    from apps.devices.models import Device

    token = new_token(DEVICE_PREFIX)
    now = timezone.now()
    device = Device.objects.create(
        kind=kind,
        serial=f"CTL-{os.getpid()}-{next(_serials)}",
        label=label,
        token_hash=hash_token(token),
        enrolled_at=now,
        officer=officer,
        push_token=push_token,
        push_token_hash=hash_token(push_token) if push_token else None,
        push_token_updated_at=now if push_token else None,
        revoked_at=now if revoked else None,
    )
    return FleetDevice(device=device, token=token)


@pytest.fixture
def make_device(db):
    return create_device


@pytest.fixture
def bodycam(make_device, officer):
    return make_device(kind="bodycam", officer=officer, label="Cam 7")


def asgi_app():
    from channels.auth import AuthMiddlewareStack
    from channels.routing import URLRouter

    from rtcc.routing import websocket_urlpatterns

    return AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


def run(scenario, *args, **kwargs):
    """Runs an async scenario from a sync test (DB calls come back to this thread)."""
    return async_to_sync(scenario)(*args, **kwargs)


# How long a socket may take to open or a frame to arrive before the test gives up: generous, so
# that a loaded machine is slow, not failing (channels' own default for a connect is 1 s). Never
# an assertion about time: what is waited for arrives, or the test fails.
SOCKET_WAIT = 30


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


async def open_socket(path: str, headers) -> tuple[WebsocketCommunicator, int | None]:
    """(communicator, close code, or None when the socket stays open). A refused socket is
    accepted and closed in the consumer's connect, so its close is queued by the time connect returns."""
    communicator = WebsocketCommunicator(asgi_app(), path, headers=headers)
    connected, code = await communicator.connect(timeout=SOCKET_WAIT)
    if not connected:
        return communicator, code
    if await communicator.receive_nothing(0.1):
        return communicator, None
    output = await communicator.receive_output()
    return communicator, output.get("code") if output["type"] == "websocket.close" else None


async def connected(path: str, headers) -> WebsocketCommunicator:
    """An open socket (the test fails if it is refused)."""
    communicator = WebsocketCommunicator(asgi_app(), path, headers=headers)
    accepted, code = await communicator.connect(timeout=SOCKET_WAIT)
    assert accepted, code
    return communicator


async def receive(communicator, timeout: float = SOCKET_WAIT) -> dict:
    return json.loads(await communicator.receive_from(timeout=timeout))


async def receive_type(communicator, kind: str, timeout: float = SOCKET_WAIT) -> dict:
    """The next frame of this type (others, e.g. device.status on the console, are skipped)."""
    while True:
        frame = await receive(communicator, timeout=timeout)
        if frame.get("type") == kind:
            return frame


def audit_actions(command_id) -> list[str]:
    """The audit trail of one command, oldest first."""
    from apps.audit.models import AuditEvent

    return list(
        AuditEvent.objects.filter(object_type="command", object_id=str(command_id))
        .order_by("seq")
        .values_list("action", flat=True)
    )


def post_command(client, device_id, *, action="start_recording", reason="Pursuit on 5th Ave", **extra):
    headers = {}
    if "key" in extra:
        headers["HTTP_IDEMPOTENCY_KEY"] = extra.pop("key")
    return client.post(
        f"/api/v1/devices/{device_id}/commands", {"action": action, "reason": reason, **extra}, format="json", **headers
    )


@contextmanager
def command_inserts_fail(sqlstate: str):
    """Inside the block PostgreSQL refuses every new command with this SQLSTATE (a trigger)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION rtcc_refuse() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{sqlstate}'; END $$;"
            " CREATE TRIGGER rtcc_refuse BEFORE INSERT ON control_command"
            " FOR EACH ROW EXECUTE FUNCTION rtcc_refuse()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER rtcc_refuse ON control_command; DROP FUNCTION rtcc_refuse()")
