"""Fixtures for plate readers: an enrolled reader, hotlists, reads as a camera sends them."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.briefings.conftest import jpeg, make_phone, pushed  # noqa: F401 - fixtures
from tests.helpers import committing_client

POLE = {"lat": 40.7128, "lon": -74.0060}
_ids = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/alpr/" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore:Message.token is deprecated"))


@pytest.fixture
def commit_per_request() -> bool:
    return True


def enroll(kind: str = "alpr", location: dict | None = POLE):
    from apps.devices.services import device_enroll, device_register

    serial = f"ALPR-{uuid.uuid4().hex[:8]}"
    device, code = device_register(kind=kind, serial=serial, location=location)
    _, token = device_enroll(serial=serial, code=code)
    device.refresh_from_db()
    return device, token


@pytest.fixture
def reader(db):
    device, token = enroll()
    device.token = token
    return device


@pytest.fixture
def reader_api(reader):
    return committing_client(token=reader.token)


@pytest.fixture
def stolen(client_for, operator):
    """An NCIC list with one stolen car on it, ABC1234 (CA)."""
    api = client_for(operator)
    hotlist = api.post("/api/v1/hotlists", {"name": "NCIC stolen", "source": "ncic", "priority": 90}, format="json")
    assert hotlist.status_code == 201, hotlist.content
    hotlist = hotlist.json()
    entry = api.post(
        f"/api/v1/hotlists/{hotlist['id']}/entries",
        {"plate": "ABC-1234", "plate_state": "CA", "reason": "Stolen vehicle", "case_number": "24-0001"},
        format="json",
    )
    assert entry.status_code == 201, entry.content
    return {"hotlist": hotlist, "entry": entry.json()}


def image_b64(**kwargs) -> str:
    return base64.b64encode(jpeg(size=(320, 120), **kwargs)).decode()


def a_read(plate: str = "XYZ9876", **fields) -> dict:
    return {
        "read_id": f"r-{next(_ids)}-{uuid.uuid4().hex[:6]}",
        "plate": plate,
        "read_at": (timezone.now() - timedelta(seconds=5)).isoformat(),
        "confidence": 0.93,
        **fields,
    }


def post_reads(api, reads: list[dict]):
    # json.dumps, as a device's JSON library writes it: a lone surrogate goes as its "\ud800"
    # escape (the test client's own renderer cannot encode one)
    return api.post("/api/v1/plate-reads", json.dumps({"reads": reads}), content_type="application/json")


def console_listener():
    """Listens on the console group as a console socket would: returns next_event()."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("console", channel)
    pending: list[dict] = []

    def next_event() -> dict:
        while not pending:
            message = async_to_sync(layer.receive)(channel)
            pending.extend(message["events"] if message["type"] == "console.events" else [message["event"]])
        return pending.pop(0)

    return next_event
