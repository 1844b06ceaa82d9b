"""The fleet list and detail, a device's own view, revocation over HTTP, and push tokens."""

from __future__ import annotations

import uuid

import pytest

from apps.audit.models import AuditEvent
from apps.devices.models import Device
from apps.devices.services import device_assign
from tests.devices.conftest import CALLERS, answers
from tests.helpers import api_client, error_code

pytestmark = pytest.mark.django_db

DEVICE_FIELDS = {
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
}


@pytest.fixture
def fleet(register, officer, other_officer, it_user):
    """Two bodycams and a phone: cam1 and the phone are the officer's, cam2 the other officer's."""
    cam1, _ = register("bodycam", serial="CAM-1")
    cam2, _ = register("bodycam", serial="CAM-2")
    phone, _ = register("phone", serial="PH-1")
    device_assign(device=cam1, officer_id=officer.pk, actor=it_user)
    device_assign(device=phone, officer_id=officer.pk, actor=it_user)
    device_assign(device=cam2, officer_id=other_officer.pk, actor=it_user)
    return {"cam1": cam1, "cam2": cam2, "phone": phone}


LIST = answers(officer=200, operator=200, it=200, superuser=200)


@pytest.mark.parametrize("who", CALLERS)
def test_list_by_role(caller, fleet, who):
    response = caller(who).get("/api/v1/devices")
    assert response.status_code == LIST[who], response.content
    if LIST[who] != 200:
        return
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    serials = sorted(row["serial"] for row in body["results"])
    if who == "officer":
        assert serials == ["CAM-1", "PH-1"]  # own devices only
    else:
        assert serials == ["CAM-1", "CAM-2", "PH-1"]
    assert set(body["results"][0]) >= DEVICE_FIELDS


@pytest.mark.parametrize("who", CALLERS)
def test_detail_by_role(caller, fleet, who):
    client = caller(who)
    own = client.get(f"/api/v1/devices/{fleet['cam1'].pk}")
    others = client.get(f"/api/v1/devices/{fleet['cam2'].pk}")
    if who == "officer":
        assert own.status_code == 200
        assert others.status_code == 404 and error_code(others) == "not_found"  # not "forbidden": not seen at all
        return
    assert own.status_code == LIST[who] and others.status_code == LIST[who]
    if LIST[who] == 200:
        body = others.json()
        assert set(body) >= DEVICE_FIELDS
        assert body["id"] == str(fleet["cam2"].pk) and body["kind"] == "bodycam"
        assert isinstance(body["officer"], str) and body["revoked"] is False and body["online"] is False


def test_detail_unknown_is_404(caller):
    it = caller("it")
    assert it.get(f"/api/v1/devices/{uuid.uuid4()}").status_code == 404
    response = it.get("/api/v1/devices/12345")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_filters(caller, fleet, officer):
    it = caller("it")

    def serials(query):
        response = it.get(f"/api/v1/devices?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["serial"] for row in response.json()["results"])

    assert serials("kind=bodycam") == ["CAM-1", "CAM-2"]
    assert serials("kind=phone") == ["PH-1"]
    assert serials(f"officer={officer.pk}") == ["CAM-1", "PH-1"]
    assert serials(f"officer={officer.pk}&kind=bodycam") == ["CAM-1"]
    assert serials("online=false") == ["CAM-1", "CAM-2", "PH-1"]
    assert serials("online=true") == []
    assert serials(f"officer={uuid.uuid4()}") == []


def test_online_filter_follows_presence(caller, fleet):
    from datetime import timedelta

    from django.utils import timezone

    Device.objects.filter(pk=fleet["cam2"].pk).update(online=True, last_seen=timezone.now())
    response = caller("it").get("/api/v1/devices?online=true")
    assert [row["serial"] for row in response.json()["results"]] == ["CAM-2"]
    # a row that says online but has not been heard from within the timeout is offline
    Device.objects.filter(pk=fleet["cam2"].pk).update(last_seen=timezone.now() - timedelta(hours=1))
    assert caller("it").get("/api/v1/devices?online=true").json()["results"] == []


@pytest.mark.parametrize(
    "query", ["kind=drone", "online=yes", "online=1", "officer=not-a-uuid", "page=0", "page_size=abc"]
)
def test_bad_filter_is_400(caller, fleet, query):
    response = caller("operator").get(f"/api/v1/devices?{query}")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"


def test_officer_filter_by_officer_cannot_see_others(caller, fleet, other_officer):
    response = caller("officer").get(f"/api/v1/devices?officer={other_officer.pk}")
    assert response.status_code == 200 and response.json()["results"] == []


# GET /api/v1/device ----------------------------------------------------------------------------

SELF = answers(bodycam=200, phone=200)


@pytest.mark.parametrize("who", CALLERS)
def test_device_self_by_role(caller, who):
    response = caller(who).get("/api/v1/device")
    assert response.status_code == SELF[who], response.content
    if SELF[who] == 200:
        body = response.json()
        assert set(body) >= DEVICE_FIELDS and body["kind"] == who


def test_bad_device_token_is_401():
    response = api_client(token="rtd_not-a-real-token").get("/api/v1/device")
    assert response.status_code == 401 and error_code(response) == "not_authenticated"


# Revocation over HTTP ------------------------------------------------------------------------

REVOKE = answers(it=200, superuser=200)


@pytest.mark.parametrize("who", CALLERS)
def test_revoke_by_role(caller, enrolled, who):
    device, token = enrolled("bodycam")
    response = caller(who).post(f"/api/v1/devices/{device.pk}/revoke")
    assert response.status_code == REVOKE[who], response.content
    works = api_client(token=token).get("/api/v1/device").status_code
    if REVOKE[who] == 200:
        assert response.json()["revoked"] is True and response.json()["online"] is False
        assert works == 401
    else:
        assert works == 200


def test_revoke_unknown_is_404(caller):
    response = caller("it").post(f"/api/v1/devices/{uuid.uuid4()}/revoke")
    assert response.status_code == 404


def test_revoke_is_audited_and_idempotent(caller, enrolled, it_user):
    device, _ = enrolled("phone")
    it = caller("it")
    assert it.post(f"/api/v1/devices/{device.pk}/revoke").status_code == 200
    assert it.post(f"/api/v1/devices/{device.pk}/revoke").status_code == 200
    events = AuditEvent.objects.filter(action="device.revoke", object_id=str(device.pk))
    assert events.count() == 1 and events[0].actor_id == str(it_user.pk)
    assert it.get(f"/api/v1/devices/{device.pk}").json()["revoked"] is True


# PUT /api/v1/device/push-token ---------------------------------------------------------------

PUSH = answers(phone=200)


@pytest.mark.parametrize("who", CALLERS)
def test_push_token_by_role(caller, who):
    response = caller(who).put("/api/v1/device/push-token", {"token": "fcm-token-1"}, format="json")
    assert response.status_code == PUSH[who], response.content
    holders = Device.objects.filter(push_token="fcm-token-1").count()
    assert holders == (1 if PUSH[who] == 200 else 0)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"token": ""},
        {"token": "   "},
        {"token": "x" * 4097},
        {"token": None},
        {"token": ["a"]},
        {"token": "a\nb"},  # a control character: FCM would refuse every push to the phone
        {"token": "a b"},
        {"token": 12345},
    ],
)
def test_push_token_bad_input_is_400(enrolled, body):
    device, token = enrolled("phone")
    response = api_client(token=token).put("/api/v1/device/push-token", body, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert Device.objects.get(pk=device.pk).push_token is None


def test_push_token_longest_allowed(enrolled):
    device, token = enrolled("phone")
    response = api_client(token=token).put("/api/v1/device/push-token", {"token": "y" * 4096}, format="json")
    assert response.status_code == 200
    assert Device.objects.get(pk=device.pk).push_token == "y" * 4096


def test_push_token_malformed_json_is_400(enrolled):
    _, token = enrolled("phone")
    response = api_client(token=token).put("/api/v1/device/push-token", data="tok", content_type="application/json")
    assert response.status_code == 400


def test_push_token_belongs_to_one_device(enrolled):
    first, first_token = enrolled("phone")
    second, second_token = enrolled("phone")
    api_client(token=first_token).put("/api/v1/device/push-token", {"token": "shared"}, format="json")
    api_client(token=second_token).put("/api/v1/device/push-token", {"token": "shared"}, format="json")
    assert Device.objects.get(pk=first.pk).push_token is None
    assert Device.objects.get(pk=second.pk).push_token == "shared"
    # replacing a phone's own token keeps one token per phone
    api_client(token=second_token).put("/api/v1/device/push-token", {"token": "newer"}, format="json")
    assert list(Device.objects.exclude(push_token=None).values_list("push_token", flat=True)) == ["newer"]
    events = AuditEvent.objects.filter(action="device.push_token")
    assert events.count() == 3
    assert events[1].details["moved_from"] == [str(first.pk)]
    assert "shared" not in str([e.details for e in events])


def test_two_phones_registering_one_token_at_once_both_succeed(transactional_db, postgres_db, enrolled):
    """A reinstall and a retry on a flaky network: the token ends on one phone, and neither
    request is a 500 (the unique index refused the loser in 4 of 10 tries on PostgreSQL)."""
    from apps.devices.services import push_token_set
    from tests.helpers import at_once

    for attempt in range(5):
        (a, _), (b, _) = enrolled("phone"), enrolled("phone")
        token = f"race-token-{attempt}-{uuid.uuid4()}"
        outcomes = at_once(
            lambda a=a, token=token: push_token_set(device=a, token=token),
            lambda b=b, token=token: push_token_set(device=b, token=token),
        )
        assert [o for o in outcomes if isinstance(o, Exception)] == []
        assert Device.objects.filter(push_token=token).count() == 1
