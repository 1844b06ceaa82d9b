"""POST /api/v1/enroll and POST /api/v1/devices/{id}/enrollment: codes work once, expire, are
throttled after repeated failures, and a fresh code replaces the old token."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.devices.models import Device, EnrollmentFailure
from tests.devices.conftest import CALLERS, answers
from tests.helpers import api_client, error_code

pytestmark = pytest.mark.django_db


def enroll(serial, code, *, client=None, ip=None):
    client = client or api_client()
    extra = {"REMOTE_ADDR": ip} if ip else {}
    return client.post("/api/v1/enroll", {"serial": serial, "code": code}, format="json", **extra)


def test_enroll_returns_a_working_token(register):
    device, code = register("bodycam")
    response = enroll(device.serial, code)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["device_id"] == str(device.pk)
    token = body["token"]
    me = api_client(token=token).get("/api/v1/device")
    assert me.status_code == 200 and me.json()["id"] == str(device.pk)
    stored = Device.objects.get(pk=device.pk)
    assert stored.token_hash and token not in stored.token_hash  # kept hashed
    assert stored.enrolled_at is not None


def test_code_is_forgiving_about_case_and_dashes(register):
    device, code = register("phone")
    typed = f"{code[:5].lower()}-{code[5:].lower()}"
    assert enroll(device.serial, typed).status_code == 200


@pytest.mark.parametrize("who", CALLERS)
def test_enroll_needs_no_credentials_and_ignores_them(caller, register, who):
    client = caller(who)
    device, code = register("bodycam")
    assert enroll(device.serial, code, client=client).status_code == 200


def test_code_works_once(register):
    device, code = register("bodycam")
    assert enroll(device.serial, code).status_code == 200
    again = enroll(device.serial, code)
    assert again.status_code == 403
    assert error_code(again) == "enrollment_failed"


def test_wrong_code_and_unknown_serial_are_403(register):
    device, code = register("bodycam")
    wrong = "0" * 10 if code != "0" * 10 else "1" * 10
    assert enroll(device.serial, wrong).status_code == 403
    assert enroll("NO-SUCH-SERIAL", code).status_code == 403
    assert not Device.objects.get(pk=device.pk).token_hash
    # the right code still works afterwards
    assert enroll(device.serial, code).status_code == 200


def test_expired_code_is_403(register):
    device, code = register("bodycam")
    Device.objects.filter(pk=device.pk).update(enrollment_expires_at=timezone.now() - timedelta(seconds=1))
    response = enroll(device.serial, code)
    assert response.status_code == 403
    assert not Device.objects.get(pk=device.pk).token_hash


def test_code_ttl_comes_from_settings(register, settings):
    settings.RTCC_ENROLLMENT_CODE_TTL = timedelta(minutes=5)
    device, _ = register("bodycam")
    assert device.enrollment_expires_at - timezone.now() <= timedelta(minutes=5)


def test_revoked_device_cannot_enroll(register, caller):
    device, code = register("bodycam")
    assert caller("it").post(f"/api/v1/devices/{device.pk}/revoke").status_code == 200
    assert enroll(device.serial, code).status_code == 403


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"serial": "A"},
        {"code": "ABC"},
        {"serial": "", "code": ""},
        {"serial": ["A"], "code": "B"},
        {"serial": "A", "code": "x" * 65},
    ],
)
def test_enroll_bad_input_is_400(payload):
    response = api_client().post("/api/v1/enroll", payload, format="json")
    assert response.status_code == 400
    assert error_code(response) == "invalid"


def test_enroll_malformed_json_is_400():
    response = api_client().post("/api/v1/enroll", data="[1,", content_type="application/json")
    assert response.status_code == 400


def test_failures_throttled_per_serial(register, settings):
    settings.RTCC_ENROLL_MAX_FAILURES_PER_SERIAL = 3
    device, code = register("bodycam")
    for n in range(3):  # from different addresses: the serial is what is being guessed
        assert enroll(device.serial, "WRONGCODE1", ip=f"10.0.0.{n + 1}").status_code == 403
    throttled = enroll(device.serial, code, ip="10.0.0.9")
    assert throttled.status_code == 429
    assert error_code(throttled) == "too_many_requests"
    assert int(throttled["Retry-After"]) > 0
    assert not Device.objects.get(pk=device.pk).token_hash  # even the right code waits
    # once the failures age out of the window, the right code works
    EnrollmentFailure.objects.update(at=timezone.now() - timedelta(hours=1))
    assert enroll(device.serial, code, ip="10.0.0.9").status_code == 200


def test_a_fresh_code_from_it_is_not_held_back_by_guesses_at_the_old_one(register, settings, caller):
    """Someone who read the serial off the camera guessed its code until the serial was throttled:
    IT's fresh code works at once (the guesses were at the code that stops working)."""
    settings.RTCC_ENROLL_MAX_FAILURES_PER_SERIAL = 3
    device, _ = register("bodycam")
    for n in range(3):
        assert enroll(device.serial, "WRONGCODE1", ip=f"10.0.0.{n + 1}").status_code == 403
    fresh = caller("it").post(f"/api/v1/devices/{device.pk}/enrollment")
    assert fresh.status_code == 200
    assert enroll(device.serial, fresh.json()["enrollment_code"], ip="10.0.0.9").status_code == 200


def test_failures_throttled_per_address(register, settings):
    settings.RTCC_ENROLL_MAX_FAILURES_PER_ADDRESS = 4
    for n in range(4):
        assert enroll(f"GUESS-{n}", "WRONGCODE1", ip="192.0.2.7").status_code == 403
    device, code = register("phone")
    throttled = enroll(device.serial, code, ip="192.0.2.7")
    assert throttled.status_code == 429 and 0 < int(throttled["Retry-After"]) <= 61  # a short hold
    # another address is not held back, and this one is free again a minute later
    other, other_code = register("phone")
    assert enroll(other.serial, other_code, ip="192.0.2.8").status_code == 200
    EnrollmentFailure.objects.update(at=timezone.now() - timedelta(minutes=2))
    assert enroll(device.serial, code, ip="192.0.2.7").status_code == 200


def test_default_throttle_engages(register):
    device, _ = register("bodycam")
    statuses = [enroll(device.serial, f"WRONG{n:05d}").status_code for n in range(12)]
    assert statuses[0] == 403
    assert statuses[-1] == 429


def test_enrollment_audited_success_and_failure(register):
    device, code = register("bodycam")
    enroll(device.serial, "WRONGCODE1", ip="198.51.100.4")
    enroll(device.serial, code, ip="198.51.100.4")
    failure = AuditEvent.objects.get(action="device.enroll", outcome="failure")
    assert failure.object_id == str(device.pk) and failure.source_ip == "198.51.100.4"
    assert failure.details["serial"] == device.serial
    success = AuditEvent.objects.get(action="device.enroll", outcome="success")
    assert success.actor_type == "device" and success.object_id == str(device.pk)
    assert code not in str(failure.details) + str(success.details)


# A fresh code: POST /api/v1/devices/{id}/enrollment ------------------------------------------

REISSUE = answers(it=200, superuser=200)


@pytest.mark.parametrize("who", CALLERS)
def test_reissue_by_role(caller, register, who):
    device, _ = register("bodycam")
    response = caller(who).post(f"/api/v1/devices/{device.pk}/enrollment")
    assert response.status_code == REISSUE[who], response.content
    if REISSUE[who] == 200:
        assert set(response.json()) >= {"enrollment_code", "enrollment_expires_at"}


def test_reissue_unknown_device_is_404(caller):
    response = caller("it").post(f"/api/v1/devices/{uuid.uuid4()}/enrollment")
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    assert caller("it").post("/api/v1/devices/not-a-uuid/enrollment").status_code == 404


def test_fresh_code_replaces_the_old_token(caller, enrolled):
    device, old_token = enrolled("bodycam")
    it = caller("it")
    fresh = it.post(f"/api/v1/devices/{device.pk}/enrollment").json()["enrollment_code"]
    # the old token keeps working until the device actually enrolls again
    assert api_client(token=old_token).get("/api/v1/device").status_code == 200
    response = enroll(device.serial, fresh)
    assert response.status_code == 200
    new_token = response.json()["token"]
    assert new_token != old_token
    assert api_client(token=old_token).get("/api/v1/device").status_code == 401
    assert api_client(token=new_token).get("/api/v1/device").status_code == 200
    events = AuditEvent.objects.filter(action="device.enrollment_code", object_id=str(device.pk))
    assert events.count() == 1


def test_fresh_code_voids_the_previous_code(caller, register):
    device, first = register("bodycam")
    caller("it").post(f"/api/v1/devices/{device.pk}/enrollment")
    assert enroll(device.serial, first).status_code == 403


def test_revoked_device_gets_no_fresh_code(caller, register):
    device, _ = register("bodycam")
    it = caller("it")
    it.post(f"/api/v1/devices/{device.pk}/revoke")
    response = it.post(f"/api/v1/devices/{device.pk}/enrollment")
    assert response.status_code == 409
    assert error_code(response) == "device_revoked"


def test_guesses_sent_all_at_once_are_each_counted_before_the_next_is_checked(transactional_db, postgres_db, register):
    """Ten wrong codes for one serial released together (from ten addresses): only as many are
    checked as the per-serial limit allows, the others are throttled. Each once saw the count
    before any was recorded, and 12 of 16 were checked against a limit of 5."""
    from apps.audit.context import AuditContext
    from apps.core.errors import Forbidden, TooManyRequests
    from apps.devices import conf, services
    from tests.helpers import at_once

    device, _ = register("bodycam")
    limit = conf.enroll_max_failures_per_serial()

    def guess(number: int):
        context = AuditContext(source_ip=f"10.9.0.{number}")
        return lambda: services.device_enroll(serial=device.serial, code=f"WRONG-{number:04d}", context=context)

    outcomes = at_once(*(guess(n) for n in range(limit + 5)))
    assert sum(isinstance(o, Forbidden) for o in outcomes) == limit
    assert sum(isinstance(o, TooManyRequests) for o in outcomes) == 5
    assert EnrollmentFailure.objects.filter(serial=device.serial).count() == limit
