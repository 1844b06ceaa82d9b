"""Fixtures for briefings: officer phones (with push tokens and locations), photos, pushes read back."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import committing_client, fcm_messages

SCENE = {"lat": 40.7128, "lon": -74.0060}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/briefings/" in str(item.path):
            # firebase-admin 7 nudges toward `fid`; FCM HTTP v1 addresses a registration token as `token`
            item.add_marker(pytest.mark.filterwarnings("ignore:Message.token is deprecated"))


@pytest.fixture
def commit_per_request() -> bool:
    return True


def token_for(prefix: str = "") -> str:
    return f"{prefix}brf-{uuid.uuid4().hex}"


@pytest.fixture
def make_phone(db):
    """make_phone(officer, token=..., lat=, lon=, age=timedelta, revoked=False) -> Device (kind phone)."""
    from apps.devices.models import Device, DeviceKind

    def make(
        officer,
        *,
        token: str | None = "",
        lat: float | None = None,
        lon: float | None = None,
        age: timedelta = timedelta(seconds=30),
        revoked: bool = False,
    ):
        token = token_for() if token == "" else token
        now = timezone.now()
        return Device.objects.create(
            kind=DeviceKind.PHONE,
            serial=f"PH-{uuid.uuid4().hex[:10]}",
            officer=officer,
            push_token=token,
            push_token_hash=hashlib.sha256(token.encode()).hexdigest() if token else None,
            lat=lat,
            lon=lon,
            location_at=(now - age) if lat is not None else None,
            revoked_at=now if revoked else None,
        )

    return make


@pytest.fixture
def phone_client(db):
    """phone_client(device) -> APIClient authenticated as the enrolled phone itself."""
    from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token

    def make(device):
        token = new_token(DEVICE_PREFIX)
        device.token_hash = hash_token(token)
        device.save(update_fields=["token_hash"])
        return committing_client(token=token)

    return make


def jpeg(size=(1200, 800), *, color=(200, 30, 30), exif=None, comment=None) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    extra = {key: value for key, value in (("exif", exif), ("comment", comment)) if value is not None}
    Image.new("RGB", size, color).save(out, "JPEG", quality=90, **extra)
    return out.getvalue()


def upload(api, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return api.post(
        "/api/v1/media", {"file": SimpleUploadedFile(name, data, content_type=content_type)}, format="multipart"
    )


pushed = fcm_messages  # the FCM `message` objects, as the briefings tests read them


def briefing_payload(audience: dict, **fields) -> dict:
    return {
        "priority": "urgent",
        "title": "Armed robbery suspect",
        "suspects": [{"description": "30s, red hoodie", "sex": "Male", "armed": True}],
        "vehicles": [{"plate": "ABC123", "make": "Honda", "model": "Civic", "color": "Silver", "direction": "north"}],
        "audience": audience,
        **fields,
    }
