"""The device side of the clips API: who may call it, and what bad input gets."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.footage.models import Clip
from tests.conftest import ROLES
from tests.helpers import api_client, error_code

from .helpers import clip_bytes, declaration

DEVICE_ENDPOINTS = [("post", "parts"), ("get", "upload"), ("post", "complete")]


def call(api, method: str, clip_id, what: str):
    url = f"/api/v1/clips/{clip_id}/{what}"
    return api.post(url, {"numbers": [1]}, format="json") if method == "post" else api.get(url)


@pytest.fixture
def declared(disk_store, camera):
    _, token = camera
    api = api_client(token=token)
    response = api.post("/api/v1/clips", declaration(clip_bytes(300_000)), format="json")
    assert response.status_code == 201
    return api, response.json()


@pytest.mark.parametrize("role", ROLES)
def test_people_may_not_use_device_endpoints(declared, personas, client_for, role):
    _, clip = declared
    api = client_for(personas[role])
    response = api.post("/api/v1/clips", declaration(clip_bytes(10)), format="json")
    assert response.status_code == 403 and error_code(response) == "forbidden"
    # Told what the endpoint is for, not about plate readers (which they are not).
    assert response.json()["error"]["message"] == "This endpoint is for enrolled cameras and phones."
    for method, what in DEVICE_ENDPOINTS:
        response = call(api, method, clip["id"], what)
        assert response.status_code == 403, (what, response.content)
    assert Clip.objects.count() == 1


def test_a_plate_reader_is_told_it_records_no_video(disk_store, make_device):
    _, token = make_device("alpr")
    response = api_client(token=token).post("/api/v1/clips", declaration(clip_bytes(10)), format="json")
    assert response.status_code == 403 and "a plate reader records no video" in response.json()["error"]["message"]


def test_superuser_is_a_person_too(declared, superuser, client_for):
    response = client_for(superuser).post("/api/v1/clips", declaration(clip_bytes(10)), format="json")
    assert response.status_code == 403


def test_anonymous_and_bad_tokens_are_401(declared, anon):
    _, clip = declared
    assert anon.post("/api/v1/clips", declaration(clip_bytes(10)), format="json").status_code == 401
    for method, what in DEVICE_ENDPOINTS:
        assert call(anon, method, clip["id"], what).status_code == 401
    forged = api_client(token="rtd_" + "x" * 43)
    assert forged.post("/api/v1/clips", declaration(clip_bytes(10)), format="json").status_code == 401


def test_another_device_cannot_touch_the_upload(declared, make_device, commit):
    _, clip = declared
    _, other_token = make_device()
    other = api_client(token=other_token)
    for method, what in DEVICE_ENDPOINTS:
        with commit(execute=True):
            response = call(other, method, clip["id"], what)
        assert response.status_code == 404 and error_code(response) == "not_found", what
    assert Clip.objects.get(pk=clip["id"]).state == "uploading"
    assert not AuditEvent.objects.filter(object_id=clip["id"], action="clip.complete").exists()


def test_revoked_device_is_refused(declared, camera):
    from apps.devices.services import device_revoke

    api, clip = declared
    device_revoke(device=camera[0])
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").status_code == 401


def test_a_phone_may_upload_too(disk_store, make_device):
    _, token = make_device("phone")
    response = api_client(token=token).post("/api/v1/clips", declaration(clip_bytes(10)), format="json")
    assert response.status_code == 201


def test_unknown_clip_is_404(declared):
    api, _ = declared
    assert api.get(f"/api/v1/clips/{uuid.uuid4()}/upload").status_code == 404
    response = api.get("/api/v1/clips/not-a-uuid/upload")
    assert response.status_code == 404 and error_code(response) == "not_found"


def _future(**delta) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


BAD_DECLARATIONS = {
    "zero size": {"size_bytes": 0},
    "negative size": {"size_bytes": -5},
    "size not a number": {"size_bytes": "big"},
    "over the maximum size": {"size_bytes": 64 * 1024**3 + 1},
    "hash not hex": {"sha256": "z" * 64},
    "hash too short": {"sha256": "a" * 63},
    "hash missing": {"sha256": None},
    "ended before started": {"started_at": _future(hours=-1), "ended_at": _future(hours=-2)},
    "started in the future": {"started_at": _future(days=1), "ended_at": _future(days=1, minutes=5)},
    "ended in the future": {"ended_at": _future(hours=2)},
    "not a time": {"started_at": "yesterday"},
    "a time in 1970": {"started_at": "1970-01-01T00:00:00Z"},
    "start without a zone": {"started_at": _future(minutes=-10)[:19]},
    "end without a zone": {"ended_at": _future(minutes=-1)[:19]},
    "much too long": {"started_at": _future(days=-3)},
    "bad trigger": {"trigger": "sometimes"},
    "not a video type": {"content_type": "text/html"},
    "not a media type": {"content_type": "mp4"},
    "empty recording id": {"recording_id": ""},
    "recording id a number": {"recording_id": 5},
    "hash a number": {"sha256": 5},
    "latitude out of range": {"location": {"lat": 200, "lon": 0}},
    "location without lon": {"location": {"lat": 20}},
    "command id not a uuid": {"trigger": "remote", "command_id": "cmd-1"},
    "command id on a manual clip": {"trigger": "manual", "command_id": str(uuid.uuid4())},
}


@pytest.mark.parametrize("case", list(BAD_DECLARATIONS))
def test_bad_declarations_are_400_and_change_nothing(disk_store, camera, case):
    _, token = camera
    body = declaration(clip_bytes(100))
    for key, value in BAD_DECLARATIONS[case].items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = api_client(token=token).post("/api/v1/clips", body, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert response.json()["error"]["fields"]
    assert not Clip.objects.exists()
    assert not AuditEvent.objects.filter(action="clip.declare").exists()


def test_malformed_json_is_400(disk_store, camera):
    _, token = camera
    response = api_client(token=token).post("/api/v1/clips", b"{not json", content_type="application/json")
    assert response.status_code == 400 and not Clip.objects.exists()


def test_configured_maximum_size(disk_store, settings, camera):
    settings.RTCC_CLIP_MAX_SIZE = 1000
    _, token = camera
    api = api_client(token=token)
    body = declaration(clip_bytes(1001))
    response = api.post("/api/v1/clips", body, format="json")
    assert response.status_code == 400 and "size_bytes" in response.json()["error"]["fields"]
    assert api.post("/api/v1/clips", declaration(clip_bytes(1000)), format="json").status_code == 201


@pytest.mark.parametrize("numbers", [[], [0], [-1], [99], ["one"], None, "1,2"])
def test_bad_part_numbers_are_400(declared, numbers):
    api, clip = declared  # 300,000 bytes in 64 KiB parts: parts 1..5
    body = {} if numbers is None else {"numbers": numbers}
    response = api.post(f"/api/v1/clips/{clip['id']}/parts", body, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"


def test_too_many_part_numbers_at_once(declared, settings):
    settings.RTCC_CLIP_PARTS_PER_REQUEST = 2
    api, clip = declared
    response = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [1, 2, 3]}, format="json")
    assert response.status_code == 400
    ok = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [4, 5]}, format="json")
    assert ok.status_code == 200
    parts = ok.json()["parts"]
    assert [p["number"] for p in parts] == [4, 5]
    for part in parts:
        assert part["method"] == "PUT" and part["url"].startswith("http://testserver/upload/")
        assert isinstance(part["headers"], dict) and part["expires_at"]
