"""Assignment: one officer at a time, with a kept history that answers "who had it when"."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.devices.models import Assignment, Device
from apps.devices.selectors import assignee_at
from tests.devices.conftest import CALLERS, answers
from tests.helpers import error_code

pytestmark = pytest.mark.django_db

IT_ONLY = answers(it=200, superuser=200)


@pytest.mark.parametrize("who", CALLERS)
def test_assign_by_role(caller, register, officer, who):
    device, _ = register("bodycam")
    response = caller(who).post(f"/api/v1/devices/{device.pk}/assign", {"officer": str(officer.pk)}, format="json")
    assert response.status_code == IT_ONLY[who], response.content
    assigned = Device.objects.get(pk=device.pk).officer_id
    assert assigned == (officer.pk if IT_ONLY[who] == 200 else None)
    if IT_ONLY[who] == 200:
        assert response.json()["officer"] == str(officer.pk)


@pytest.mark.parametrize("who", CALLERS)
def test_unassign_by_role(caller, register, officer, it_user, who):
    from apps.devices.services import device_assign

    device, _ = register("bodycam")
    device_assign(device=device, officer_id=officer.pk, actor=it_user)
    response = caller(who).post(f"/api/v1/devices/{device.pk}/unassign")
    assert response.status_code == IT_ONLY[who], response.content
    still = Device.objects.get(pk=device.pk).officer_id
    assert still == (None if IT_ONLY[who] == 200 else officer.pk)


def test_reassign_keeps_history(caller, register, officer, other_officer, it_user):
    device, _ = register("bodycam")
    it = caller("it")
    for person in (officer, other_officer):
        response = it.post(f"/api/v1/devices/{device.pk}/assign", {"officer": str(person.pk)}, format="json")
        assert response.status_code == 200
    history = list(Assignment.objects.filter(device=device).order_by("started_at"))
    assert [a.officer_id for a in history] == [officer.pk, other_officer.pk]
    assert history[0].ended_at is not None and history[0].ended_at <= history[1].started_at
    assert history[1].ended_at is None
    assert history[0].assigned_by_id == it_user.pk and history[0].ended_by_id == it_user.pk
    assert Device.objects.get(pk=device.pk).officer_id == other_officer.pk
    # at most one open assignment
    assert Assignment.objects.filter(device=device, ended_at__isnull=True).count() == 1
    listed = it.get(f"/api/v1/devices/{device.pk}/assignments").json()["results"]
    assert [row["officer"] for row in listed] == [str(other_officer.pk), str(officer.pk)]


def test_assign_same_officer_twice_changes_nothing(caller, register, officer):
    device, _ = register("bodycam")
    it = caller("it")
    for _ in range(2):
        response = it.post(f"/api/v1/devices/{device.pk}/assign", {"officer": str(officer.pk)}, format="json")
        assert response.status_code == 200
    assert Assignment.objects.filter(device=device).count() == 1
    assert AuditEvent.objects.filter(action="device.assign").count() == 1


def test_unassign_ends_the_assignment(caller, register, officer):
    device, _ = register("bodycam")
    it = caller("it")
    it.post(f"/api/v1/devices/{device.pk}/assign", {"officer": str(officer.pk)}, format="json")
    response = it.post(f"/api/v1/devices/{device.pk}/unassign")
    assert response.status_code == 200 and response.json()["officer"] is None
    assert Assignment.objects.get(device=device).ended_at is not None
    # unassigning an unassigned device is harmless
    assert it.post(f"/api/v1/devices/{device.pk}/unassign").status_code == 200


def test_assignee_at_answers_from_history(register, officer, other_officer, it_user):
    from apps.devices.services import device_assign, device_unassign

    device, _ = register("bodycam")
    t0 = timezone.now()
    assert assignee_at(device, t0) is None
    device_assign(device=device, officer_id=officer.pk, actor=it_user)
    first = Assignment.objects.get(device=device)
    device_assign(device=device, officer_id=other_officer.pk, actor=it_user)
    second = Assignment.objects.get(device=device, ended_at__isnull=True)
    device_unassign(device=device, actor=it_user)
    second.refresh_from_db()
    first.refresh_from_db()
    assert assignee_at(device, first.started_at) == officer
    assert assignee_at(device, first.started_at + (first.ended_at - first.started_at) / 2) == officer
    assert assignee_at(device, second.started_at) == other_officer
    assert assignee_at(device.pk, second.started_at) == other_officer  # an id works too
    assert assignee_at(device, second.ended_at + timedelta(seconds=1)) is None
    assert assignee_at(device, t0 - timedelta(days=1)) is None


@pytest.mark.parametrize("target", ["operator", "clerk", "it", "inactive", "superuser", "unknown", "bad"])
def test_assign_to_non_officer_is_400(caller, register, make_user, personas, superuser, target):
    device, _ = register("bodycam")
    if target == "inactive":
        officer_id = str(make_user("officer", is_active=False).pk)
    elif target == "superuser":
        officer_id = str(superuser.pk)
    elif target == "unknown":
        officer_id = str(uuid.uuid4())
    elif target == "bad":
        officer_id = "not-a-uuid"
    else:
        officer_id = str(personas[target].pk)
    response = caller("it").post(f"/api/v1/devices/{device.pk}/assign", {"officer": officer_id}, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert "officer" in response.json()["error"]["fields"]
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("body", [{}, {"officer": None}, {"officer": 7}, {"officer": ""}])
def test_assign_bad_body_is_400(caller, register, body):
    device, _ = register("bodycam")
    response = caller("it").post(f"/api/v1/devices/{device.pk}/assign", body, format="json")
    assert response.status_code == 400


def test_assign_malformed_json_is_400(caller, register):
    device, _ = register("bodycam")
    response = caller("it").post(f"/api/v1/devices/{device.pk}/assign", data="{", content_type="application/json")
    assert response.status_code == 400


def test_assign_unknown_device_is_404(caller, officer):
    it = caller("it")
    response = it.post(f"/api/v1/devices/{uuid.uuid4()}/assign", {"officer": str(officer.pk)}, format="json")
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert it.post(f"/api/v1/devices/{uuid.uuid4()}/unassign").status_code == 404


def test_revoked_device_cannot_be_assigned(caller, register, officer):
    device, _ = register("bodycam")
    it = caller("it")
    it.post(f"/api/v1/devices/{device.pk}/revoke")
    response = it.post(f"/api/v1/devices/{device.pk}/assign", {"officer": str(officer.pk)}, format="json")
    assert response.status_code == 409


def test_assignment_is_audited(caller, register, officer, it_user):
    device, _ = register("bodycam")
    it = caller("it")
    it.post(f"/api/v1/devices/{device.pk}/assign", {"officer": str(officer.pk)}, format="json")
    it.post(f"/api/v1/devices/{device.pk}/unassign")
    assign = AuditEvent.objects.get(action="device.assign")
    assert assign.actor_id == str(it_user.pk) and assign.object_id == str(device.pk)
    assert assign.details["officer"] == str(officer.pk)
    unassign = AuditEvent.objects.get(action="device.unassign")
    assert unassign.details["officer"] == str(officer.pk)


HISTORY = answers(operator=200, it=200, superuser=200)


@pytest.mark.parametrize("who", CALLERS)
def test_history_by_role(caller, register, officer, it_user, who):
    from apps.devices.services import device_assign

    device, _ = register("bodycam")
    device_assign(device=device, officer_id=officer.pk, actor=it_user)
    response = caller(who).get(f"/api/v1/devices/{device.pk}/assignments")
    assert response.status_code == HISTORY[who], response.content
    if HISTORY[who] == 200:
        [row] = response.json()["results"]
        assert row["officer"] == str(officer.pk) and row["assigned_by"] == str(it_user.pk) and row["ended_at"] is None


def test_history_unknown_device_is_404(caller):
    assert caller("it").get(f"/api/v1/devices/{uuid.uuid4()}/assignments").status_code == 404


def test_an_officer_given_another_role_hands_their_devices_back(caller, register, officer, other_officer):
    """Devices go to officers only: an officer made a clerk kept their camera, whose new clips would
    then have been a clerk's. IT's role change ends the assignment, in the audit trail with why."""
    camera, _ = register("bodycam")
    phone, _ = register("phone")
    kept, _ = register("bodycam")
    it = caller("it")
    for device, person in ((camera, officer), (phone, officer), (kept, other_officer)):
        it.post(f"/api/v1/devices/{device.pk}/assign", {"officer": str(person.pk)}, format="json")
    assert it.patch(f"/api/v1/users/{officer.pk}", {"full_name": "Still an officer"}, format="json").status_code == 200
    assert Device.objects.filter(officer=officer).count() == 2  # another change leaves them be

    assert it.patch(f"/api/v1/users/{officer.pk}", {"role": "clerk"}, format="json").status_code == 200
    changed_by = AuditEvent.objects.get(action="user.update", details__changed=["role"]).actor_id
    for device in (camera, phone):
        assert it.get(f"/api/v1/devices/{device.pk}").json()["officer"] is None
        assignment = Assignment.objects.get(device=device)
        assert assignment.ended_at is not None and str(assignment.ended_by_id) == changed_by  # IT's, not nobody's
        event = AuditEvent.objects.get(action="device.unassign", object_id=str(device.pk))
        assert event.details["reason"] == "the officer's role is now clerk"
        assert (event.actor_type, event.actor_id) == ("user", changed_by)
    assert Device.objects.get(pk=kept.pk).officer_id == other_officer.pk
