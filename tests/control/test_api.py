"""The commands API: who may command and read, what a command looks like, bad input, idempotency, cancel."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from channels.layers import channel_layers
from django.test import override_settings
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.control import services
from apps.control.models import Command
from tests.conftest import ROLES
from tests.control.conftest import audit_actions, post_command
from tests.helpers import console_login, error_code

PROTOCOL_FIELDS = {
    "id",
    "device",
    "action",
    "reason",
    "requested_by",
    "state",
    "created_at",
    "expires_at",
    "sent_at",
    "delivered_at",
    "finished_at",
    "error",
}


@pytest.mark.django_db
def test_operator_starts_recording_and_gets_the_queued_command(client_for, operator, bodycam):
    response = post_command(client_for(operator), bodycam.id, reason="  Shots fired, unit 12 on scene  ")
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) >= PROTOCOL_FIELDS
    assert body["device"] == bodycam.id
    assert body["action"] == "start_recording"
    assert body["reason"] == "Shots fired, unit 12 on scene"
    assert body["requested_by"] == str(operator.pk)
    assert body["state"] == "queued"
    assert body["sent_at"] is None and body["delivered_at"] is None and body["finished_at"] is None
    assert body["error"] is None
    created = datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None
    assert datetime.fromisoformat(body["expires_at"]) - created == timedelta(seconds=120)
    assert audit_actions(body["id"]) == ["command.create"]
    event = AuditEvent.objects.get(object_id=body["id"])
    assert event.actor_id == str(operator.pk)
    assert event.details["device"] == bodycam.id and event.details["action"] == "start_recording"
    assert event.details["reason"] == "Shots fired, unit 12 on scene"


@pytest.mark.django_db
def test_ttl_sets_the_expiry(client_for, operator, bodycam):
    body = post_command(client_for(operator), bodycam.id, action="stop_recording", ttl_seconds=30).json()
    assert body["action"] == "stop_recording"
    expiry = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"])
    assert expiry == timedelta(seconds=30)


@pytest.mark.django_db
def test_a_superuser_acts_as_it_and_may_not_command(client_for, superuser, operator, bodycam):
    response = post_command(client_for(superuser), bodycam.id)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert Command.objects.count() == 0
    command, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="x"
    )
    assert client_for(superuser).post(f"/api/v1/commands/{command.pk}/cancel").status_code == 403
    assert client_for(superuser).get(f"/api/v1/commands/{command.pk}").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_only_operators_command(client_for, personas, bodycam, role):
    response = post_command(client_for(personas[role]), bodycam.id)
    if role == "operator":
        assert response.status_code == 202
    else:
        assert response.status_code == 403
        assert error_code(response) == "forbidden"
    assert Command.objects.count() == (1 if role == "operator" else 0)


@pytest.mark.django_db
def test_anonymous_and_devices_cannot_command(anon, client_for, bodycam, make_device):
    response = post_command(anon, bodycam.id)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    other = make_device()
    response = post_command(client_for(None, token=other.token), bodycam.id)
    assert response.status_code == 403
    assert Command.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_read_access_per_role(client_for, personas, operator, bodycam, role):
    command, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="Test"
    )
    client = client_for(personas[role])
    one = client.get(f"/api/v1/commands/{command.pk}")
    listing = client.get(f"/api/v1/devices/{bodycam.id}/commands")
    if role == "operator":  # IT manages devices, not operations: commands are not theirs to read
        assert one.status_code == 200 and one.json()["id"] == str(command.pk)
        assert listing.status_code == 200
        assert [row["id"] for row in listing.json()["results"]] == [str(command.pk)]
    else:
        assert (one.status_code, listing.status_code) == (403, 403)
        assert error_code(one) == "forbidden"


@pytest.mark.django_db
def test_reads_need_credentials(anon, client_for, operator, bodycam):
    command, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="Test"
    )
    assert anon.get(f"/api/v1/commands/{command.pk}").status_code == 401
    assert anon.get(f"/api/v1/devices/{bodycam.id}/commands").status_code == 401
    as_device = client_for(None, token=bodycam.token)
    assert as_device.get(f"/api/v1/commands/{command.pk}").status_code == 403
    assert as_device.get(f"/api/v1/devices/{bodycam.id}/commands").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_only_operators_cancel(client_for, personas, operator, bodycam, role):
    command, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="Test"
    )
    response = client_for(personas[role]).post(f"/api/v1/commands/{command.pk}/cancel")
    command.refresh_from_db()
    if role == "operator":
        assert response.status_code == 200
        assert response.json()["state"] == "cancelled"
    else:
        assert response.status_code == 403
        assert command.state == "queued"


@pytest.mark.django_db
def test_cancel_anonymous_401(anon, operator, bodycam):
    command, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="Test"
    )
    assert anon.post(f"/api/v1/commands/{command.pk}/cancel").status_code == 401


@pytest.mark.django_db
def test_unknown_ids_are_404(client_for, operator):
    client = client_for(operator)
    missing = "00000000-0000-4000-8000-000000000000"
    for response in (
        post_command(client, missing),
        client.get(f"/api/v1/devices/{missing}/commands"),
        client.get(f"/api/v1/commands/{missing}"),
        client.post(f"/api/v1/commands/{missing}/cancel"),
        client.get("/api/v1/commands/not-a-uuid"),
        post_command(client, "not-a-uuid"),
    ):
        assert response.status_code == 404
        assert error_code(response) == "not_found"


@pytest.mark.django_db
def test_command_to_a_revoked_device_is_409(client_for, operator, make_device):
    revoked = make_device(revoked=True)
    response = post_command(client_for(operator), revoked.id)
    assert response.status_code == 409
    assert error_code(response) == "device_revoked"
    assert Command.objects.count() == 0


@pytest.mark.django_db
def test_command_to_a_plate_reader_is_409(client_for, operator, make_device):
    """A plate reader sends reads over HTTPS and holds no socket: a command would wait for nothing."""
    reader = make_device(kind="alpr")
    response = post_command(client_for(operator), reader.id)
    assert response.status_code == 409 and error_code(response) == "device_not_commandable"
    assert Command.objects.count() == 0
    phone = make_device(kind="phone")  # a phone records too, and is woken by a push
    assert post_command(client_for(operator), phone.id).status_code == 202


BAD_BODIES = [
    ({"reason": "x"}, "action"),
    ({"action": "self_destruct", "reason": "x"}, "action"),
    ({"action": "start_recording"}, "reason"),
    ({"action": "start_recording", "reason": ""}, "reason"),
    ({"action": "start_recording", "reason": "   "}, "reason"),
    ({"action": "start_recording", "reason": "\ufeff\u200b\u00a0"}, "reason"),  # shows nothing: stored before
    ({"action": "start_recording", "reason": None}, "reason"),
    ({"action": "start_recording", "reason": "x" * 501}, "reason"),
    ({"action": "start_recording", "reason": "x", "ttl_seconds": 0}, "ttl_seconds"),
    ({"action": "start_recording", "reason": "x", "ttl_seconds": -5}, "ttl_seconds"),
    ({"action": "start_recording", "reason": "x", "ttl_seconds": 3601}, "ttl_seconds"),
    ({"action": "start_recording", "reason": "x", "ttl_seconds": "soon"}, "ttl_seconds"),
    ({"action": "start_recording", "reason": "x", "ttl_seconds": 1.5}, "ttl_seconds"),
    ({"action": ["start_recording"], "reason": "x"}, "action"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_input_is_400_and_stores_nothing(client_for, operator, bodycam, body, field):
    response = client_for(operator).post(f"/api/v1/devices/{bodycam.id}/commands", body, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert field in response.json()["error"]["fields"]
    assert Command.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="command").exists()


@pytest.mark.django_db
def test_malformed_bodies_are_400(client_for, operator, bodycam):
    client = client_for(operator)
    url = f"/api/v1/devices/{bodycam.id}/commands"
    for response in (
        client.post(url, "[1, 2]", content_type="application/json"),
        client.post(url, "{not json", content_type="application/json"),
    ):
        assert response.status_code == 400
        assert error_code(response) in {"invalid", "malformed_request"}
    assert Command.objects.count() == 0


@pytest.mark.django_db
def test_idempotency_key_returns_the_same_command(client_for, operator, make_user, bodycam, make_device):
    client = client_for(operator)
    first = post_command(client, bodycam.id, key="k-123")
    again = post_command(client, bodycam.id, key="k-123")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Command.objects.count() == 1
    assert audit_actions(first.json()["id"]) == ["command.create"]
    # The key is scoped to the person and the device.
    other_device = make_device()
    assert post_command(client, other_device.id, key="k-123").json()["id"] != first.json()["id"]
    colleague = make_user("operator")
    assert post_command(client_for(colleague), bodycam.id, key="k-123").json()["id"] != first.json()["id"]
    # Without a key, every POST is a new command.
    assert post_command(client, bodycam.id).json()["id"] != post_command(client, bodycam.id).json()["id"]


@pytest.mark.django_db
def test_idempotency_key_with_a_different_body_answers_the_first_command(client_for, operator, bodycam):
    # "same key = same command back": the second body is not a second command, and the answer
    # shows what the first one was.
    client = client_for(operator)
    first = post_command(client, bodycam.id, key="k-1")
    again = post_command(client, bodycam.id, key="k-1", action="stop_recording")
    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["action"] == "start_recording"
    assert Command.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "tab\there", "x" * 201, "caf\u00e9"])
def test_bad_idempotency_key_is_400(client_for, operator, bodycam, key):
    client = client_for(operator)
    response = client.post(
        f"/api/v1/devices/{bodycam.id}/commands",
        {"action": "start_recording", "reason": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1"),
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert Command.objects.count() == 0


@pytest.mark.django_db
def test_an_idempotency_key_may_hold_spaces_as_printable_ascii_does(client_for, operator, bodycam):
    client = client_for(operator)
    first = post_command(client, bodycam.id, key="console 2026-11-30 #1")
    assert first.status_code == 202, first.content
    again = post_command(client, bodycam.id, key="console 2026-11-30 #1")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Command.objects.count() == 1


@pytest.mark.django_db
def test_cancel_while_queued_then_409(client_for, operator, bodycam):
    client = client_for(operator)
    command_id = post_command(client, bodycam.id).json()["id"]
    response = client.post(f"/api/v1/commands/{command_id}/cancel")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "cancelled" and body["finished_at"] is not None
    assert audit_actions(command_id) == ["command.create", "command.cancelled"]
    again = client.post(f"/api/v1/commands/{command_id}/cancel")
    assert again.status_code == 409
    assert error_code(again) == "command_not_cancellable"


@pytest.mark.django_db
def test_cancel_while_sent_works_but_not_after_delivery(client_for, operator, bodycam):
    client = client_for(operator)
    sent_id = post_command(client, bodycam.id).json()["id"]
    assert services.command_claim_send(command_id=sent_id, device=bodycam.device) == "first"
    assert client.post(f"/api/v1/commands/{sent_id}/cancel").json()["state"] == "cancelled"

    delivered_id = post_command(client, bodycam.id).json()["id"]
    services.command_ack(command_id=delivered_id, device=bodycam.device)
    response = client.post(f"/api/v1/commands/{delivered_id}/cancel")
    assert response.status_code == 409
    assert client.get(f"/api/v1/commands/{delivered_id}").json()["state"] == "delivered"


@pytest.mark.django_db
def test_device_history_is_newest_first_paginated_and_filterable(client_for, operator, bodycam):
    client = client_for(operator)
    ids = [post_command(client, bodycam.id, reason=f"r{n}").json()["id"] for n in range(3)]
    client.post(f"/api/v1/commands/{ids[0]}/cancel")
    page = client.get(f"/api/v1/devices/{bodycam.id}/commands?page_size=2").json()
    assert page["count"] == 3 and page["next"] and page["previous"] is None
    assert [row["id"] for row in page["results"]] == [ids[2], ids[1]]
    cancelled = client.get(f"/api/v1/devices/{bodycam.id}/commands?state=cancelled").json()
    assert [row["id"] for row in cancelled["results"]] == [ids[0]]
    for query in ("state=done", "page=0", "page_size=x"):
        response = client.get(f"/api/v1/devices/{bodycam.id}/commands?{query}")
        assert response.status_code == 400, query


@pytest.mark.django_db
def test_readers_see_expiry_without_waiting_for_the_sweep(client_for, operator, bodycam):
    client = client_for(operator)
    body = post_command(client, bodycam.id, ttl_seconds=1).json()
    assert body["state"] == "queued"
    Command.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(milliseconds=1))
    one = client.get(f"/api/v1/commands/{body['id']}").json()
    assert one["state"] == "expired" and one["finished_at"] is not None
    assert audit_actions(body["id"]) == ["command.create", "command.expired"]
    other = post_command(client, bodycam.id, ttl_seconds=1).json()
    Command.objects.filter(pk=other["id"]).update(expires_at=timezone.now() - timedelta(milliseconds=1))
    listing = client.get(f"/api/v1/devices/{bodycam.id}/commands").json()
    assert {row["state"] for row in listing["results"]} == {"expired"}
    third = post_command(client, bodycam.id, ttl_seconds=1).json()
    Command.objects.filter(pk=third["id"]).update(expires_at=timezone.now() - timedelta(milliseconds=1))
    response = client.post(f"/api/v1/commands/{third['id']}/cancel")
    assert response.status_code == 409
    assert client.get(f"/api/v1/commands/{third['id']}").json()["state"] == "expired"


@pytest.mark.django_db
def test_commands_are_in_the_openapi_schema(anon):
    paths = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {
        "/api/v1/devices/{device_id}/commands",
        "/api/v1/commands/{command_id}",
        "/api/v1/commands/{command_id}/cancel",
    } <= set(paths)


@pytest.mark.django_db
def test_admin_lists_commands_read_only(client, superuser, operator, bodycam):
    command, _ = services.command_create(
        device=bodycam.device, requested_by=operator, action="start_recording", reason="Admin view"
    )
    console_login(client, superuser)
    assert client.get("/admin/control/command/").status_code == 200
    assert client.get(f"/admin/control/command/{command.pk}/change/").status_code == 200
    assert client.get("/admin/control/command/add/").status_code == 403


@pytest.mark.django_db
def test_a_cancel_that_cannot_reach_redis_answers_503_and_changes_nothing(client_for, operator, bodycam, redis_url):
    """With the Redis layer, consumers of other processes claim fresh commands in Redis before
    sending; a cancel that cannot close that claim must not pretend it stopped the command."""
    client = client_for(operator)
    command_id = post_command(client, bodycam.id).json()["id"]
    unreachable = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0", "socket_timeout": 1}]},
        }
    }
    with override_settings(CHANNEL_LAYERS=unreachable):
        channel_layers.backends.clear()
        try:
            refused = client.post(f"/api/v1/commands/{command_id}/cancel")
        finally:
            channel_layers.backends.clear()
    assert refused.status_code == 503
    assert error_code(refused) == "unavailable" and refused["Retry-After"]
    assert Command.objects.get(pk=command_id).state == "queued"
    assert audit_actions(command_id) == ["command.create"]
    # Redis reachable again: the same cancel goes through.
    assert client.post(f"/api/v1/commands/{command_id}/cancel").json()["state"] == "cancelled"
