"""Cameras that are online and recording, live sessions, and segment helpers for live view tests."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from tests.control.conftest import FleetDevice, create_device

# A few bytes that stand in for fMP4 pieces: rtcc stores and serves them without looking inside.
INIT = b"\x00\x00\x00\x18ftypiso6" + b"init" * 8


def media(sequence: int, size: int = 2048) -> bytes:
    return (f"segment-{sequence}-".encode() * (size // 10 + 1))[:size]


def mark_recording(camera: FleetDevice, *, online: bool = True, recording: bool = True) -> None:
    """The stored presence of a camera that is connected and recording (no live copy overrides it)."""
    from apps.devices.models import Device

    Device.objects.filter(pk=camera.id).update(online=online, recording=recording, last_seen=timezone.now())


@pytest.fixture
def make_device(db):
    return create_device


@pytest.fixture
def camera(db, officer) -> FleetDevice:
    cam = create_device(kind="bodycam", officer=officer, label="Cam 12")
    mark_recording(cam)
    return cam


@pytest.fixture
def officer_phone(db, officer) -> tuple[FleetDevice, str]:
    token = f"live-{uuid.uuid4().hex}"
    return create_device(kind="phone", officer=officer, push_token=token), token


def request_live(client, device_id, reason="Shots fired call, 5th and Main"):
    return client.post(f"/api/v1/devices/{device_id}/live", {"reason": reason}, format="json")


def put_segment(client, live_id, name: str, body: bytes, duration: str | None = "1.000", **headers):
    if duration is not None and name != "init.mp4":
        headers["HTTP_X_SEGMENT_DURATION"] = duration
    return client.generic("PUT", f"/api/v1/live/{live_id}/segments/{name}", body, content_type="video/mp4", **headers)


def playlist_urls(text: str) -> tuple[str | None, list[str]]:
    """(the EXT-X-MAP URI, the segment URIs in order) of a playlist."""
    init = None
    urls = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="', 1)[1].rstrip('"')
        elif line and not line.startswith("#"):
            urls.append(line)
    return init, urls
