"""Fixtures of the records tests (search, access, custody, retention): clips made straight through the ORM
and the storage backend (no ingest flow), devices through the real services, a caller per role."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import api_client

__all__ = ["caller", "make_clip", "rec_device", "rec_disk"]

CALLERS = ["clerk", "officer", "other_officer", "operator", "it", "superuser", "anonymous", "device"]
_serials = itertools.count(1)


@pytest.fixture
def rec_disk(settings, tmp_path):
    """The disk backend in a fresh directory, whatever the run's environment says."""
    from apps.integrations.storage import get_storage

    settings.RTCC_S3_BUCKET = None
    settings.RTCC_STORAGE_DIR = tmp_path / "objects"
    return get_storage()


@pytest.fixture
def rec_device(db):
    """rec_device(officer=None, kind="bodycam") -> (device, token), registered and enrolled for real."""
    from apps.devices.services import device_enroll, device_register

    def make(officer=None, kind: str = "bodycam"):
        device, code = device_register(kind=kind, serial=f"REC-{next(_serials):05d}-{uuid.uuid4().hex[:6]}")
        device, token = device_enroll(serial=device.serial, code=code)
        if officer is not None:
            type(device).objects.filter(pk=device.pk).update(officer=officer)
            device.refresh_from_db()
        return device, token

    return make


@pytest.fixture
def make_clip(db, rec_device):
    """make_clip(officer=None, data=None, store=None, **fields) -> Clip.

    With `store` the bytes (`data`, or 2 KiB of random bytes) are put into that backend under the
    clip's key and the clip is `available`; without it only the row exists.
    """
    from apps.footage.ingest.services import category_get_or_default, retain_until_for
    from apps.footage.models import Clip

    devices: dict = {}

    def make(officer=None, data: bytes | None = None, store=None, **fields) -> Clip:
        key = officer.pk if officer else None
        if key not in devices:
            devices[key] = rec_device(officer)[0]
        device = fields.pop("device", devices[key])
        if data is None:
            data = os.urandom(2048)
        started = fields.pop("started_at", timezone.now() - timedelta(hours=2))
        ended = fields.pop("ended_at", started + timedelta(minutes=5))
        category = fields.pop("category", None) or category_get_or_default()
        clip_id = uuid.uuid4()
        values = dict(
            id=clip_id,
            device=device,
            officer=officer,
            recording_id=f"rec-{clip_id.hex[:12]}",
            started_at=started,
            ended_at=ended,
            duration_s=(ended - started).total_seconds(),
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            content_type="video/mp4",
            state="available",
            trigger="manual",
            category=category,
            retain_until=retain_until_for(category=category, started_at=started),
            storage_key=f"clips/{device.pk}/{clip_id}.mp4",
            part_size=8 * 1024 * 1024,
            part_count=1,
        )
        values.update(fields)
        clip = Clip.objects.create(**values)
        if store is not None:
            store.put(clip.storage_key, io.BytesIO(data), content_type="video/mp4")
        clip.data = data
        return clip

    return make


@pytest.fixture
def caller(personas, other_officer, superuser, rec_device):
    """caller(name) -> APIClient acting as one of CALLERS (real bearer tokens)."""

    def make(name: str):
        if name == "anonymous":
            return api_client()
        if name == "device":
            return api_client(token=rec_device()[1])
        if name == "other_officer":
            return api_client(other_officer)
        if name == "superuser":
            return api_client(superuser)
        return api_client(personas[name])

    return make
