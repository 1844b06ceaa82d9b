"""The disk backend end to end over a real daphne process: signed part URLs at rtcc itself."""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from apps.footage.models import Clip
from apps.integrations.storage import UPLOAD_SALT, get_storage, sign_token
from apps.simulator.client import ClipUploader, write_random_file
from tests.helpers import LiveServer


@pytest.fixture
def disk_server(transactional_db, settings, tmp_path):
    """daphne on the disk backend, sharing its object directory with this test."""
    data_dir = tmp_path / "live"
    settings.RTCC_S3_BUCKET = None
    settings.RTCC_STORAGE_DIR = data_dir / "objects"
    server = LiveServer(
        env={
            "RTCC_S3_BUCKET": "",
            "RTCC_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "tests.footage.live_settings",
        }
    )
    yield server
    server.stop()


def test_disk_upload_over_daphne_resumes_and_ends_available(disk_server, make_device, tmp_path):
    _, token = make_device()
    path = tmp_path / "clip.mp4"
    sha256 = write_random_file(path, 5 * 64 * 1024 + 777)
    end = timezone.now() - timedelta(seconds=30)
    with ClipUploader(disk_server.url, token, parallel=2, batch=2) as uploader:
        result = uploader.upload(
            path,
            recording_id="rec-live-1",
            started_at=end - timedelta(minutes=2),
            ended_at=end,
            sha256=sha256,
            fail_after=2,
        )
        assert result.state == "available"
        assert result.attempts == 2  # dropped after two parts, then resumed from the server's list
        assert result.parts_sent == 6  # 2 before the drop + the 4 the server said were missing

        # Uploading the same recording again: the same clip, nothing sent.
        again = uploader.upload(
            path, recording_id="rec-live-1", started_at=end - timedelta(minutes=2), ended_at=end, sha256=sha256
        )
        assert again.clip_id == result.clip_id and again.redeclared and again.parts_sent == 0

    clip = Clip.objects.get(pk=result.clip_id)
    assert clip.state == "available" and clip.part_count == 6
    assert b"".join(get_storage().iter_bytes(clip.storage_key)) == path.read_bytes()


def test_disk_part_url_checks(disk_server, make_device):
    _, token = make_device()
    api = httpx.Client(base_url=disk_server.url, headers={"Authorization": f"Bearer {token}"})
    data = os.urandom(100_000)
    import hashlib

    end = timezone.now() - timedelta(seconds=30)
    clip = api.post(
        "/api/v1/clips",
        json={
            "recording_id": "rec-live-2",
            "started_at": (end - timedelta(minutes=1)).isoformat(),
            "ended_at": end.isoformat(),
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": "video/mp4",
            "trigger": "auto",
        },
    ).json()
    parts = api.post(f"/api/v1/clips/{clip['id']}/parts", json={"numbers": [1, 2]}).json()["parts"]
    first, second = parts
    assert first["url"].startswith(f"{disk_server.url}/upload/")

    # wrong length: refused, nothing kept
    short = httpx.put(first["url"], content=data[:10], headers=first["headers"])
    assert short.status_code == 400 and short.json()["error"]["code"] == "wrong_part_length"
    # a tampered token, an expired one, a POST: refused
    tampered = first["url"][:-3] + ("aaa" if not first["url"].endswith("aaa") else "bbb")
    assert httpx.put(tampered, content=data[:65536]).status_code == 403
    clip_row = Clip.objects.get(pk=clip["id"])
    expired = sign_token(
        {"k": clip_row.storage_key, "u": clip_row.upload_id, "n": 1, "l": 65536}, salt=UPLOAD_SALT, expires_in=-5
    )
    assert httpx.put(f"{disk_server.url}/upload/{expired}", content=data[:65536]).status_code == 403
    assert httpx.post(first["url"], content=data[:65536]).status_code == 405
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["received"] == []

    # the right bytes, streamed: accepted (a part's URL can be used again until it expires)
    assert httpx.put(first["url"], content=data[:65536], headers=first["headers"]).status_code == 200
    assert httpx.put(first["url"], content=data[:65536], headers=first["headers"]).status_code == 200
    assert httpx.put(second["url"], content=iter([data[65536:80000], data[80000:]])).status_code == 200
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json() == {
        "state": "uploading",
        "received": [1, 2],
        "missing": [],
    }
    assert api.post(f"/api/v1/clips/{clip['id']}/complete").status_code == 202
    # once complete the URLs are dead
    assert httpx.put(first["url"], content=data[:65536]).status_code == 409


@pytest.mark.parametrize("kind", ["bodycam", "phone"])  # a phone told to record uploaded nothing
def test_simulated_camera_uploads_its_recording(disk_server, make_device, monkeypatch, kind):
    import asyncio
    import uuid

    from apps.simulator.client import upload_recording
    from apps.simulator.fleet import DeviceState

    device, token = make_device(kind)
    monkeypatch.setenv("RTCC_SIM_CLIP_MIB", "0.2-0.3")  # a few 64 KiB parts
    monkeypatch.setenv("RTCC_SIM_CLIP_FAIL_RATE", "1")  # always drop once, then resume
    command_id = str(uuid.uuid4())
    state = DeviceState(
        id=str(device.pk),
        serial=device.serial,
        kind=kind,
        token=token,
        base_url=disk_server.url,
        lat=40.7,
        lon=-74.0,
        extra={"recording_command_id": command_id},
    )
    end = timezone.now() - timedelta(seconds=5)
    result = asyncio.run(upload_recording(state, "sim-rec-1", end - timedelta(minutes=1), end))

    assert result.state == "available" and result.attempts == 2
    clip = Clip.objects.get(pk=result.clip_id)
    assert clip.device_id == device.pk and clip.recording_id == "sim-rec-1"
    assert clip.trigger == "remote" and str(clip.command_id) == command_id
    assert int(0.2 * 1024 * 1024) <= clip.size_bytes <= int(0.3 * 1024 * 1024) and clip.lat == 40.7
