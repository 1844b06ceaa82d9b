"""POST /api/v1/devices: IT registers a device and gets its enrollment code once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.devices.models import Device
from tests.devices.conftest import CALLERS, answers
from tests.helpers import api_client, error_code

pytestmark = pytest.mark.django_db

EXPECTED = answers(it=201, superuser=201)


@pytest.mark.parametrize("who", CALLERS)
def test_register_by_role(caller, who):
    client = caller(who)
    before = Device.objects.count()
    response = client.post("/api/v1/devices", {"kind": "bodycam", "serial": "CAM-ROLE-1"}, format="json")
    assert response.status_code == EXPECTED[who], response.content
    created = Device.objects.filter(serial="CAM-ROLE-1").count()
    assert created == (1 if EXPECTED[who] == 201 else 0)
    if EXPECTED[who] != 201:
        assert error_code(response) in {"forbidden", "not_authenticated"}
        assert Device.objects.count() == before


def test_register_answers_device_and_code_once(caller):
    it = caller("it")
    response = it.post(
        "/api/v1/devices",
        {"kind": "phone", "serial": "PH-1", "model": "Pixel 8", "label": "Reyes phone"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    for name in (
        "id",
        "kind",
        "serial",
        "label",
        "officer",
        "online",
        "last_seen",
        "recording",
        "battery_pct",
        "storage_free_mb",
        "location",
        "revoked",
        "enrollment_code",
        "enrollment_expires_at",
    ):
        assert name in body, name
    assert body["kind"] == "phone" and body["serial"] == "PH-1" and body["label"] == "Reyes phone"
    assert body["officer"] is None and body["online"] is False and body["location"] is None
    assert body["revoked"] is False
    code = body["enrollment_code"]
    assert len(code) >= 8
    expires = timezone.datetime.fromisoformat(body["enrollment_expires_at"])
    assert timedelta(hours=23) < expires - timezone.now() <= timedelta(hours=24)
    # shown once: the stored form is a keyed hash, and no later read shows it
    device = Device.objects.get(pk=body["id"])
    assert code not in device.enrollment_code_hash and len(device.enrollment_code_hash) == 64
    detail = it.get(f"/api/v1/devices/{body['id']}").json()
    assert "enrollment_code" not in detail and code not in str(detail)


def test_codes_are_random(register):
    codes = {register("bodycam")[1] for _ in range(20)}
    assert len(codes) == 20
    assert all(len(code) == 10 for code in codes)  # 10 base32 characters: 50 bits


def test_serial_unique_per_kind(caller):
    it = caller("it")
    assert it.post("/api/v1/devices", {"kind": "bodycam", "serial": "X-1"}, format="json").status_code == 201
    again = it.post("/api/v1/devices", {"kind": "bodycam", "serial": "X-1"}, format="json")
    assert again.status_code == 409
    assert error_code(again) == "serial_taken"
    # the same serial on the other kind is another device
    assert it.post("/api/v1/devices", {"kind": "phone", "serial": "X-1"}, format="json").status_code == 201
    assert Device.objects.filter(serial="X-1").count() == 2


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"kind": "drone", "serial": "D-1"},
        {"kind": "bodycam"},
        {"kind": "bodycam", "serial": ""},
        {"kind": "bodycam", "serial": "   "},
        {"kind": "bodycam", "serial": "x" * 65},
        {"kind": "bodycam", "serial": "tab\there"},
        {"kind": "bodycam", "serial": "new\nline"},
        {"kind": "bodycam", "serial": 12},
        {"kind": "bodycam", "serial": "OK-1", "label": "x" * 65},
        {"kind": ["bodycam"], "serial": "OK-2"},
        {"kind": "alpr", "serial": "POLE-1", "location": {"lat": 91, "lon": 0}},
        {"kind": "alpr", "serial": "POLE-1", "location": {"lat": 40}},
        {"kind": "alpr", "serial": "POLE-1", "location": "40,-74"},
    ],
)
def test_register_bad_input(caller, payload):
    response = caller("it").post("/api/v1/devices", payload, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert response.json()["error"]["fields"]
    assert Device.objects.count() == 0


def test_register_malformed_json(caller):
    response = caller("it").post("/api/v1/devices", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "malformed_request"
    assert Device.objects.count() == 0


def test_register_is_audited(caller, it_user):
    response = caller("it").post("/api/v1/devices", {"kind": "bodycam", "serial": "AUD-1"}, format="json")
    event = AuditEvent.objects.get(action="device.register")
    assert event.object_id == response.json()["id"]
    assert event.actor_id == str(it_user.pk)
    assert event.details["serial"] == "AUD-1"
    assert response.json()["enrollment_code"] not in str(event.details)


def test_serial_as_printed_is_kept(caller):
    response = caller("it").post("/api/v1/devices", {"kind": "bodycam", "serial": "  AXN 4711/b  "}, format="json")
    assert response.status_code == 201
    assert response.json()["serial"] == "AXN 4711/b"


def test_a_fixed_plate_reader_registers_with_its_place(caller):
    response = caller("it").post(
        "/api/v1/devices",
        {"kind": "alpr", "serial": "POLE-7", "label": "Main St & 5th", "location": {"lat": 40.7128, "lon": -74.006}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "alpr" and body["enrollment_code"]
    assert (body["location"]["lat"], body["location"]["lon"]) == (40.7128, -74.006)
    enrolled = caller("anonymous").post(
        "/api/v1/enroll", {"serial": "POLE-7", "code": body["enrollment_code"]}, format="json"
    )
    assert enrolled.status_code == 200 and enrolled.json()["token"]
    listed = caller("it").get("/api/v1/devices?kind=alpr").json()
    assert [d["serial"] for d in listed["results"]] == ["POLE-7"]


def test_a_revoked_serial_registers_again_as_a_new_device_that_replaces_it(caller, personas):
    """A revoked camera is given out again: IT registers its serial anew and it enrolls; the
    revoked row keeps its own history, and the new device says which one it replaces."""
    it = caller("it")
    first = it.post("/api/v1/devices", {"kind": "bodycam", "serial": "RE-1"}, format="json").json()
    old_token = (
        api_client().post("/api/v1/enroll", {"serial": "RE-1", "code": first["enrollment_code"]}, format="json").json()
    )
    assert it.post(f"/api/v1/devices/{first['id']}/assign", {"officer": str(personas["officer"].pk)}).status_code == 200
    assert it.post(f"/api/v1/devices/{first['id']}/revoke").status_code == 200
    # the revoked device still gets no fresh code: it is registered again instead
    assert error_code(it.post(f"/api/v1/devices/{first['id']}/enrollment")) == "device_revoked"
    again = it.post("/api/v1/devices", {"kind": "bodycam", "serial": "RE-1"}, format="json")
    assert again.status_code == 201, again.content
    second = again.json()
    assert second["id"] != first["id"] and second["revoked"] is False and second["officer"] is None
    assert second["replaces"] == first["id"] and first["replaces"] is None
    enrolled = api_client().post("/api/v1/enroll", {"serial": "RE-1", "code": second["enrollment_code"]}, format="json")
    assert enrolled.status_code == 200 and enrolled.json()["device_id"] == second["id"]
    assert api_client(token=enrolled.json()["token"]).get("/api/v1/device").json()["replaces"] == first["id"]
    assert api_client(token=old_token["token"]).get("/api/v1/device").status_code == 401
    # the old row keeps its history: revoked, its assignment and its audit trail
    old = it.get(f"/api/v1/devices/{first['id']}").json()
    assert old["revoked"] is True and old["id"] == first["id"]
    assert len(it.get(f"/api/v1/devices/{first['id']}/assignments").json()["results"]) == 1
    assert it.get(f"/api/v1/devices/{second['id']}/assignments").json()["results"] == []
    old_actions = set(AuditEvent.objects.filter(object_id=first["id"]).values_list("action", flat=True))
    assert {"device.register", "device.enroll", "device.assign", "device.revoke"} <= old_actions
    assert not AuditEvent.objects.filter(object_id=second["id"], action="device.revoke").exists()
    register_event = AuditEvent.objects.get(object_id=second["id"], action="device.register")
    assert register_event.details["replaces"] == first["id"]
    # one device in use per serial: while the new one is in service the serial is taken
    taken = it.post("/api/v1/devices", {"kind": "bodycam", "serial": "RE-1"}, format="json")
    assert taken.status_code == 409 and error_code(taken) == "serial_taken"
    # revoked in turn, the serial registers a third time, replacing the latest revoked device
    assert it.post(f"/api/v1/devices/{second['id']}/revoke").status_code == 200
    third = it.post("/api/v1/devices", {"kind": "bodycam", "serial": "RE-1"}, format="json").json()
    assert third["replaces"] == second["id"]
    assert Device.objects.filter(kind="bodycam", serial="RE-1").count() == 3


def test_a_boolean_latitude_is_refused(client_for, it_user):
    from apps.devices.models import Device

    body = {"kind": "alpr", "serial": "BOOL-1", "location": {"lat": True, "lon": 1}}
    response = client_for(it_user).post("/api/v1/devices", body, format="json")
    assert response.status_code == 400 and "location.lat" in response.json()["error"]["fields"]
    assert not Device.objects.filter(serial="BOOL-1").exists()
