"""Phones: a wake-up data message for commands to a phone, and the officer's notice when a remote
start/stop succeeded. Read back from whichever push backend runs (the outbox, or the FCM fake)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from apps.control import services
from apps.control.models import Command
from tests.control.conftest import post_command
from tests.helpers import pushed

pytestmark = pytest.mark.django_db(transaction=True)  # pushes go out after commit


def phone_token(prefix: str = "") -> str:
    return f"{prefix}ctl-{uuid.uuid4().hex}"


def test_a_command_to_a_phone_wakes_it_with_a_high_priority_data_message(client_for, operator, make_device):
    token = phone_token()
    phone = make_device(kind="phone", push_token=token)
    command_id = post_command(client_for(operator), phone.id).json()["id"]
    messages = pushed(token)
    assert len(messages) == 1
    assert messages[0]["data"] == {
        "type": "command",
        "command_id": command_id,
        "action": "start_recording",
        "expires_at": messages[0]["data"]["expires_at"],
    }
    assert all(isinstance(value, str) for value in messages[0]["data"].values())
    assert messages[0]["priority"] == "high"


def test_a_failing_push_never_fails_the_command(client_for, operator, make_device):
    token = phone_token("unreg-")  # the FCM fake answers UNREGISTERED
    phone = make_device(kind="phone", push_token=token)
    response = post_command(client_for(operator), phone.id)
    assert response.status_code == 202
    assert Command.objects.get(pk=response.json()["id"]).state == "queued"


def test_officer_is_told_who_started_their_camera_when_and_why(make_user, make_device, officer):
    operator = make_user("operator", full_name="Dana Reyes")
    token = phone_token()
    make_device(kind="phone", officer=officer, push_token=token)
    make_device(kind="phone", officer=officer, push_token=phone_token(), revoked=True)
    camera = make_device(kind="bodycam", officer=officer, label="Cam 12")
    command, _ = services.command_create(
        device=camera.device, requested_by=operator, action="start_recording", reason="Armed suspect reported"
    )
    assert pushed(token) == []  # nothing until the camera really started
    services.command_ack(command_id=command.pk, device=camera.device)
    assert pushed(token) == []
    services.command_result(command_id=command.pk, device=camera.device, ok=True)
    messages = pushed(token)
    assert len(messages) == 1
    notice = messages[0]
    assert notice["data"]["type"] == "command.notice"
    assert notice["data"]["command_id"] == str(command.pk)
    assert notice["data"]["action"] == "start_recording"
    assert notice["data"]["requested_by_name"] == "Dana Reyes"
    assert notice["data"]["reason"] == "Armed suspect reported"
    assert all(isinstance(value, str) for value in notice["data"].values())
    assert "started" in notice["title"] and "Cam 12" in notice["title"]
    assert "Dana Reyes" in notice["body"] and "Armed suspect reported" in notice["body"]
    # A duplicate result sends no second notice.
    services.command_result(command_id=command.pk, device=camera.device, ok=True)
    assert len(pushed(token)) == 1


def test_no_notice_for_a_failed_command_or_an_unassigned_camera(operator, make_device, officer):
    token = phone_token()
    make_device(kind="phone", officer=officer, push_token=token)
    camera = make_device(kind="bodycam", officer=officer)
    command, _ = services.command_create(
        device=camera.device, requested_by=operator, action="stop_recording", reason="Scene cleared"
    )
    services.command_result(command_id=command.pk, device=camera.device, ok=False, error="busy")
    spare = make_device(kind="bodycam")
    other, _ = services.command_create(
        device=spare.device, requested_by=operator, action="stop_recording", reason="Scene cleared"
    )
    services.command_result(command_id=other.pk, device=spare.device, ok=True)
    assert pushed(token) == []


def test_a_redelivered_notice_task_tells_the_officer_once(operator, make_device, officer):
    """Tasks are acknowledged late, so a worker lost after its push has the task run again."""
    from apps.control import tasks

    token = phone_token()
    make_device(kind="phone", officer=officer, push_token=token)
    camera = make_device(kind="bodycam", officer=officer)
    command, _ = services.command_create(
        device=camera.device, requested_by=operator, action="start_recording", reason="Pursuit in progress"
    )
    services.command_result(command_id=command.pk, device=camera.device, ok=True)
    assert len(pushed(token)) == 1
    tasks.command_notify_officer.delay(str(command.pk))  # the same task, delivered again
    tasks.command_notify_officer.delay(str(command.pk))
    assert len(pushed(token)) == 1


# Notices are owed in the database (issue 13 item 13) ------------------------------------------


def _succeed(operator, camera) -> Command:
    command, _ = services.command_create(
        device=camera.device, requested_by=operator, action="start_recording", reason="Shots fired"
    )
    services.command_result(command_id=command.pk, device=camera.device, ok=True)
    return command


def test_a_notice_whose_sender_died_mid_send_goes_out_once_after_its_lease(operator, make_device, officer):
    from datetime import timedelta

    from django.utils import timezone

    from apps.control.models import CommandNotice

    token = phone_token()
    make_device(kind="phone", officer=officer, push_token=token)
    camera = make_device(kind="bodycam", officer=officer)
    from django.db import transaction

    command, _ = services.command_create(
        device=camera.device, requested_by=operator, action="start_recording", reason="Shots fired"
    )
    # A worker is killed after claiming the notice and before sending it: the row stays queued,
    # under its lease. Claimed as that worker did (before the task queued on commit runs), then abandoned:
    with transaction.atomic():
        services.command_result(command_id=command.pk, device=camera.device, ok=True)
        claimed = services._notices_claim(command.pk)
    assert len(claimed) == 1 and pushed(token) == []  # the task after commit found it taken
    assert services.command_notices_due() == []  # leased: nobody else sends it meanwhile
    services.command_notify_officer(command_id=command.pk)  # a redelivered task: still leased
    assert pushed(token) == []
    CommandNotice.objects.filter(pk=claimed[0].pk).update(next_attempt_at=timezone.now() - timedelta(seconds=5))
    assert services.command_notices_sweep() == 1  # lease over: the sweep sends it
    assert len(pushed(token)) == 1
    assert services.command_notices_sweep() == 0
    services.command_notify_officer(command_id=command.pk)  # redelivered again: nothing twice
    assert len(pushed(token)) == 1
    assert CommandNotice.objects.get(pk=claimed[0].pk).state == "sent"


def test_notices_survive_an_fcm_outage_and_go_out_once_after_it(operator, make_device, officer, fcm):
    from datetime import timedelta

    from django.utils import timezone

    from apps.control.models import CommandNotice

    token = phone_token()
    make_device(kind="phone", officer=officer, push_token=token)
    camera = make_device(kind="bodycam", officer=officer)
    httpx.post(f"{fcm}/_faults", json={"outage": True}, timeout=5).raise_for_status()
    try:
        command = _succeed(operator, camera)
    finally:
        httpx.post(f"{fcm}/_faults", json={"outage": False}, timeout=5).raise_for_status()
    assert pushed(token) == []
    notice = CommandNotice.objects.get(command=command)
    assert notice.state == "queued" and notice.error  # owed, not forgotten
    CommandNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=5))
    assert services.command_notices_sweep() == 1
    assert len(pushed(token)) == 1
    assert services.command_notices_sweep() == 0
    assert CommandNotice.objects.get(pk=notice.pk).state == "sent"


def test_a_wake_push_that_did_not_go_out_is_sent_once_by_the_sweep(client_for, operator, make_device, fcm):
    """FCM down (or Redis, so the push could not even be queued) when the command was stored: the
    phone was never woken, and an asleep phone app let the command expire. The sweep wakes it,
    once, while the command still waits."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.control import conf

    token = phone_token()
    phone = make_device(kind="phone", push_token=token)
    httpx.post(f"{fcm}/_faults", json={"outage": True}, timeout=5).raise_for_status()
    try:
        command_id = post_command(client_for(operator), phone.id).json()["id"]
    finally:
        httpx.post(f"{fcm}/_faults", json={"outage": False}, timeout=5).raise_for_status()
    assert pushed(token) == []
    later = timezone.now() + timedelta(seconds=conf.resend_after_seconds() + 1)
    assert services.command_wake_due(now=later) == 1
    assert [m["data"]["command_id"] for m in pushed(token)] == [command_id]
    assert services.command_wake_due(now=later) == 0  # woken: not again
    services.command_wake_phone(command_id=command_id)  # the queued task, late: nothing twice
    assert len(pushed(token)) == 1
