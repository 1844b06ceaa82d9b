"""Footage fixtures: enrolled devices with real tokens, and the two storage backends."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

MiB = 1024 * 1024
_serials = itertools.count(1)


@pytest.fixture
def make_device(db):
    """make_device(kind="bodycam", officer=None) -> (device, token), enrolled through the real services."""
    from apps.devices.models import Assignment
    from apps.devices.services import device_assign, device_enroll, device_register

    def make(kind: str = "bodycam", officer=None):
        device, code = device_register(kind=kind, serial=f"FT-{kind[:3].upper()}-{next(_serials):05d}")
        device, token = device_enroll(serial=device.serial, code=code)
        if officer is not None:
            device = device_assign(device=device, officer_id=officer.pk)
            # handed out at the start of the shift, before the recordings the tests declare
            Assignment.objects.filter(device=device).update(started_at=timezone.now() - timedelta(hours=10))
        return device, token

    return make


@pytest.fixture
def camera(make_device, officer):
    """An enrolled bodycam assigned to the `officer` persona: (device, token)."""
    return make_device("bodycam", officer=officer)


@pytest.fixture
def disk_store(settings, tmp_path):
    """The disk backend in a fresh directory, whatever the run's environment says."""
    from apps.integrations.storage import get_storage

    settings.RTCC_S3_BUCKET = None
    settings.RTCC_STORAGE_DIR = tmp_path / "objects"
    settings.RTCC_CLIP_MIN_PART_SIZE = 64 * 1024  # the disk has no part minimum: tiny parts, fast tests
    return get_storage()


@pytest.fixture
def s3_store(s3, settings):
    # S3 (SeaweedFS included) refuses parts under 5 MiB except the last one.
    settings.RTCC_CLIP_MIN_PART_SIZE = 5 * MiB
    return s3


@pytest.fixture(params=[pytest.param("s3", marks=pytest.mark.services), "disk"])
def store(request):
    """Each test that takes `store` runs on S3 (SeaweedFS) and on the disk backend."""
    return request.getfixturevalue("s3_store" if request.param == "s3" else "disk_store")


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """commit(execute=True) as a context manager: runs on_commit callbacks inside a `db` test."""
    return django_capture_on_commit_callbacks
