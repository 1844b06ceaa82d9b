"""Console events: each payload has the shape its documented serializer declares, each console
socket gets only the event types its role may see, and a channel layer that fails after commit
does not fail the request that committed."""

from __future__ import annotations

import asyncio
import re
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone
from rest_framework import serializers

from apps.accounts.services import token_issue
from apps.briefings.serializers import DeliveryOut
from apps.control.models import Command
from apps.control.serializers import CommandOut
from apps.core.realtime import (
    CONSOLE_EVENTS,
    CONSOLE_GROUP,
    console_send_after_commit,
    console_send_many_after_commit,
)
from apps.devices.models import Device
from apps.devices.serializers import DeviceOut
from apps.devices.services import device_assign, device_enroll, device_register, push_token_set
from apps.footage.serializers import ClipOut
from apps.leads.serializers import LeadUpdateOut
from apps.live.serializers import LiveOut
from tests.control.conftest import bearer, connected, post_command, receive, run
from tests.footage.helpers import clip_bytes, declaration
from tests.helpers import api_client

pytestmark = pytest.mark.django_db(transaction=True)

DOCUMENTED = {
    "device.status": DeviceOut,
    "command.update": CommandOut,
    "delivery.update": DeliveryOut,
    "clip.update": ClipOut,
    "live.update": LiveOut,
    "lead.update": LeadUpdateOut,
}
PENDING = {"hit.new", "hit.update"}  # documented by the serializers of apps still to come


def assert_conforms(serializer: serializers.Serializer, data: dict, path: str = "") -> None:
    """`data` has exactly the serializer's fields, each value one the field itself would write."""
    assert isinstance(data, dict), path
    assert set(data) == set(serializer.fields), f"{path}: {sorted(set(data) ^ set(serializer.fields))}"
    for name, field in serializer.fields.items():
        value, where = data[name], f"{path}.{name}"
        if value is None:
            assert field.allow_null or isinstance(field, serializers.SerializerMethodField), f"{where} is null"
        elif isinstance(field, serializers.Serializer):
            assert_conforms(field, value, where)
        elif isinstance(field, serializers.RelatedField):
            assert isinstance(value, str), where  # a primary key
        elif isinstance(field, (serializers.SerializerMethodField, serializers.ReadOnlyField)):
            assert isinstance(value, (str, int, float, bool, dict, list)), where
        else:  # what the field reads back, it writes out unchanged
            assert field.to_representation(field.to_internal_value(value)) == value, f"{where} = {value!r}"


@contextmanager
def console_group():
    """Listens on the console group as a console socket would; yields a function draining it."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(CONSOLE_GROUP, channel)

    async def drain() -> list[dict]:
        events = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), 0.5)
            except TimeoutError:
                return events
            events += message["events"] if message["type"] == "console.events" else [message["event"]]

    try:
        yield async_to_sync(drain)
    finally:
        async_to_sync(layer.group_discard)(CONSOLE_GROUP, channel)


def test_every_console_event_type_has_a_documented_payload():
    assert set(DOCUMENTED) | PENDING == set(CONSOLE_EVENTS)


def test_each_event_payload_matches_its_documented_serializer(settings, tmp_path, client_for, operator, officer):
    settings.RTCC_S3_BUCKET = None  # clips on the disk backend, whatever the run's environment says
    settings.RTCC_STORAGE_DIR = tmp_path / "objects"
    with console_group() as drain:
        camera, code = device_register(kind="bodycam", serial=f"RT-{uuid.uuid4().hex[:8]}")
        camera, camera_token = device_enroll(serial=camera.serial, code=code)
        device_assign(device=camera, officer_id=officer.pk)
        phone, code = device_register(kind="phone", serial=f"RT-{uuid.uuid4().hex[:8]}")
        phone, _ = device_enroll(serial=phone.serial, code=code)
        device_assign(device=phone, officer_id=officer.pk)
        push_token_set(device=phone, token=f"fcm-{uuid.uuid4().hex}")
        api = client_for(operator)
        assert post_command(api, camera.pk).status_code == 202
        briefing = api.post(
            "/api/v1/briefings",
            {"priority": "urgent", "title": "Stolen van", "audience": {"officers": [str(officer.pk)]}},
            format="json",
        )
        assert briefing.status_code == 201, briefing.content
        device_api = api_client(token=camera_token)
        assert device_api.post("/api/v1/clips", declaration(clip_bytes(100)), format="json").status_code == 201
        Device.objects.filter(pk=camera.pk).update(online=True, recording=True, last_seen=timezone.now())
        live = api.post(f"/api/v1/devices/{camera.pk}/live", {"reason": "Backup requested"}, format="json")
        assert live.status_code == 201, live.content
        api.get(f"/api/v1/live/{live.json()['id']}/playlist.m3u8")  # a viewer: the payload lists them
        lead = api.post("/api/v1/leads", {"kind": "other", "case_number": "C-1", "summary": "Tip"}, format="json")
        assert lead.status_code == 201, lead.content
        events = drain()
    seen = {event["type"] for event in events}
    assert set(DOCUMENTED) <= seen, seen
    for event in events:
        key = CONSOLE_EVENTS[event["type"]][0]
        assert set(event) == {"type", key}
        assert_conforms(DOCUMENTED[event["type"]](), event[key], event["type"])
    # and the payload is what the API shows
    command = next(e["command"] for e in events if e["type"] == "command.update")
    assert api.get(f"/api/v1/commands/{command['id']}").json() == command


async def open_console(token: str):
    return await connected("/ws/console/", bearer(token))


async def frames(communicator) -> list[str]:
    types = []
    while not await communicator.receive_nothing(0.3):
        types.append((await receive(communicator))["type"])
    return types


def test_each_role_gets_only_its_event_types(operator, it_user, superuser):
    tokens = {
        name: token_issue(user=user)[0]
        for name, user in [("operator", operator), ("it", it_user), ("superuser", superuser)]
    }
    payload = {"id": str(uuid.uuid4())}

    def send_every_type():
        for event_type in CONSOLE_EVENTS:
            console_send_after_commit(event_type, payload)
        console_send_many_after_commit("clip.update", [payload, payload])
        console_send_many_after_commit("device.status", [payload, payload])

    async def scenario():
        sockets = {name: await open_console(token) for name, token in tokens.items()}
        await database_sync_to_async(send_every_type)()
        seen = {name: await frames(socket) for name, socket in sockets.items()}
        for socket in sockets.values():
            await socket.disconnect()
        return seen

    seen = run(scenario)
    assert seen["operator"] == [*CONSOLE_EVENTS, "clip.update", "clip.update", "device.status", "device.status"]
    # IT (and a superuser, who acts as IT) sees devices, never footage, commands, deliveries, hits or live views
    assert seen["it"] == seen["superuser"] == ["device.status", "device.status", "device.status"]


def test_a_channel_layer_failing_after_commit_does_not_fail_the_request(settings, client_for, operator, caplog):
    from tests.control.conftest import create_device

    camera = create_device(kind="bodycam")
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    response = post_command(client_for(operator), camera.id)
    assert response.status_code == 202, response.content
    assert Command.objects.get(pk=response.json()["id"]).state == "queued"
    # Logged, not raised: one line naming the cause, without a traceback (a Redis outage logs one
    # for every event the web processes could not send).
    failed = [record for record in caplog.records if "could not send" in record.getMessage()]
    assert failed and "the channel layer cannot be reached (ConnectionError:" in failed[0].getMessage()
    assert all(record.exc_info is None for record in failed)


def test_a_redis_that_takes_the_connection_and_never_answers_does_not_hang_the_request(
    settings, client_for, operator, caplog
):
    """The layer's socket has no timeout (its blocking reads need none): a Redis that accepts and
    then says nothing must not keep a committed request from answering."""
    import threading

    from tests.control.conftest import create_device
    from tests.helpers import silent_server

    camera = create_device(kind="bodycam")
    client, answers = client_for(operator), []
    with silent_server() as port:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "apps.core.layers.RedisChannelLayer",
                "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{port}/0", "socket_timeout": None}]},
            }
        }
        settings.RTCC_REALTIME_SEND_TIMEOUT = 0.5
        request = threading.Thread(target=lambda: answers.append(post_command(client, camera.id)), daemon=True)
        request.start()
        request.join(60)  # the send gives up after 0.5 s here; before, this waited for ever
    assert answers, "the request never answered: it waited on the silent Redis"
    response = answers[0]
    assert response.status_code == 202, response.content
    assert Command.objects.get(pk=response.json()["id"]).state == "queued"  # the device catches up on connect
    assert any("could not send" in record.getMessage() for record in caplog.records)


ASYNC_ORM = re.compile(
    r"\.a(get|create|filter|update|delete|save|count|exists|first|last|iterator|aggregate|bulk_create|bulk_update"
    r"|get_or_create|update_or_create|refresh_from_db|in_bulk|contains|earliest|latest|explain)\("
)


@pytest.mark.once
def test_no_code_uses_djangos_async_orm_which_the_consumers_dispatch_relies_on():
    # DirectDispatch (apps/core/realtime.py) skips Channels' close_old_connections before each
    # socket message: right only while every database call goes through database_sync_to_async
    # (which closes stale connections itself) or apps/core/aiodb.py.
    apps_dir = Path(__file__).resolve().parents[2] / "apps"
    found = [
        f"{path.relative_to(apps_dir)}:{number}: {line.strip()}"
        for path in sorted(apps_dir.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ASYNC_ORM.search(line)
    ]
    assert found == []
