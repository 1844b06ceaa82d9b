"""The Django admin pages IT uses for the fleet: lists, registration through the service, revocation."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.devices.models import Assignment, Device
from apps.devices.services import device_assign
from tests.helpers import console_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(superuser):
    client = Client()
    console_login(client, superuser)
    return client


def test_lists_open(admin_client, enrolled, officer, superuser):
    device, _ = enrolled("bodycam", label="Cam 9")
    device_assign(device=device, officer_id=officer.pk, actor=superuser)
    for url in (
        "/admin/devices/device/",
        f"/admin/devices/device/{device.pk}/change/",
        "/admin/devices/assignment/",
        "/admin/devices/enrollmentfailure/",
    ):
        assert admin_client.get(url).status_code == 200, url
    assert b"Cam 9" in admin_client.get("/admin/devices/device/").content
    assert admin_client.get("/admin/devices/assignment/add/").status_code == 403  # assign via the API


def test_add_registers_through_the_service(admin_client):
    response = admin_client.post(
        "/admin/devices/device/add/",
        {"kind": "bodycam", "serial": "ADM-1", "model": "", "label": "", "firmware": ""},
        follow=True,
    )
    assert response.status_code == 200
    device = Device.objects.get(serial="ADM-1")
    assert device.enrollment_code_hash and device.enrollment_expires_at
    assert b"Enrollment code for ADM-1" in response.content
    assert AuditEvent.objects.filter(action="device.register", object_id=str(device.pk)).exists()


def test_revoke_action(admin_client, enrolled):
    device, _ = enrolled("phone")
    selection = {"action": "revoke_devices", "_selected_action": [device.pk]}
    response = admin_client.post("/admin/devices/device/", selection, follow=True)
    assert response.status_code == 200
    assert Device.objects.get(pk=device.pk).revoked
    assert AuditEvent.objects.filter(action="device.revoke", object_id=str(device.pk)).exists()
    assert not Assignment.objects.exists()
