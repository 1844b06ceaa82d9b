"""The command POST answered on the event loop (apps/control/fastpath.py), against the real
PostgreSQL and Redis: what it stores, announces and audits is what the API view would, and
everything it does not answer reaches the view unchanged, with its body."""

from __future__ import annotations

import json

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers

from apps.accounts.services import token_issue
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify_chain
from apps.control.fastpath import CommandFastPath
from apps.control.models import Command
from apps.core import aiodb
from apps.core.realtime import CONSOLE_GROUP, device_group
from apps.counters import names as counted
from apps.counters.models import Count
from tests.control.conftest import create_device, run

pytestmark = pytest.mark.django_db(transaction=True)  # the loop's own connection sees committed rows only


class ViewStandIn:
    """The app behind the fast path (Django, in rtcc.asgi): records what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"view"})


async def post(app, device_id, body: bytes, *, token: str | None, headers=(), query: bytes = b""):
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/api/v1/devices/{device_id}/commands",
        "query_string": query,
        "client": ("10.1.2.3", 5555),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *([(b"authorization", f"Bearer {token}".encode())] if token else []),
            *headers,
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    try:
        await app(scope, receive, send)
    finally:
        await aiodb.close_all()
    status = sent[0]["status"]
    return status, dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def body_of(**fields) -> bytes:
    return json.dumps({"action": "start_recording", "reason": "Robbery in progress", **fields}).encode()


@pytest.fixture
def services_up(postgres_db, redis_url):
    return None


def test_a_valid_command_is_stored_counted_audited_and_sent_without_the_view(services_up, operator):
    camera = create_device(kind="bodycam")
    token, _ = token_issue(user=operator)
    view = ViewStandIn()

    async def scenario():
        # Listening on a layer of its own: receiving on the process's shared one from this test's
        # event loop would leave it bound to this loop for the tests after (channels_redis).
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        device_channel = await layer.new_channel()
        console_channel = await layer.new_channel()
        await layer.group_add(device_group(camera.id), device_channel)
        await layer.group_add(CONSOLE_GROUP, console_channel)
        answer = await post(CommandFastPath(view), camera.id, body_of(ttl_seconds=90), token=token)
        return answer, await layer.receive(device_channel), await layer.receive(console_channel)

    (status, headers, body), to_device, to_console = run(scenario)
    assert view.bodies == []  # answered before the view
    assert status == 202, body
    assert headers[b"content-type"] == b"application/json"
    answer = json.loads(body)
    command = Command.objects.get(pk=answer["id"])
    assert (command.device_id, command.requested_by_id, command.state) == (camera.device.pk, operator.pk, "queued")
    assert (command.action, command.reason, command.ttl_seconds) == ("start_recording", "Robbery in progress", 90)
    assert answer["state"] == "queued" and answer["device"] == camera.id and answer["ttl_seconds"] == 90
    assert to_device["command"] == command.device_payload()
    assert to_console["event"]["command"]["id"] == answer["id"]
    assert Count.objects.filter(name=counted.command("start_recording"), level="d").get().n == 1
    event = AuditEvent.objects.get(action="command.create", object_id=answer["id"])
    assert (event.actor_type, event.actor_id, event.source_ip) == ("user", str(operator.pk), "10.1.2.3")
    assert event.details == {
        "device": camera.id,
        "action": "start_recording",
        "reason": "Robbery in progress",
        "state": "queued",
        "ttl_seconds": 90,
        "device_kind": "bodycam",
    }
    verdict = audit_verify_chain()  # chains what waits first, then checks every link
    assert verdict.ok, verdict.problems
    assert AuditEvent.objects.get(pk=event.pk).seq is not None


def test_a_new_idempotency_key_is_stored_and_its_replay_goes_to_the_view(services_up, operator):
    camera = create_device(kind="bodycam")
    token, _ = token_issue(user=operator)
    view = ViewStandIn()
    key = [(b"idempotency-key", b"click-42")]
    status, _, body = run(post, CommandFastPath(view), camera.id, body_of(), token=token, headers=key)
    assert status == 202 and view.bodies == []
    assert Command.objects.get(pk=json.loads(body)["id"]).idempotency_key == "click-42"
    status, _, _ = run(post, CommandFastPath(view), camera.id, body_of(), token=token, headers=key)
    assert status == 299 and view.bodies == [body_of()]  # the view replays (or refuses) it
    assert Command.objects.count() == 1


@pytest.mark.parametrize(
    "case",
    [
        "no token",
        "clerk",
        "officer",
        "it",
        "bad body",
        "bad key",
        "unknown device",
        "revoked",
        "query string",
        "accepts no json",
    ],
)
def test_what_the_fast_path_does_not_answer_reaches_the_view_with_its_body_and_nothing_stored(
    services_up, make_user, case
):
    role = case if case in ("clerk", "officer", "it") else "operator"
    token, _ = token_issue(user=make_user(role, username=f"u-{role}"))
    camera = create_device(kind="bodycam", revoked=case == "revoked")
    device_id = "00000000-0000-4000-8000-000000000000" if case == "unknown device" else camera.id
    body = b'{"action": "fly", "reason": "x"}' if case == "bad body" else body_of()
    headers = {"bad key": [(b"idempotency-key", b"has space")], "accepts no json": [(b"accept", b"text/html")]}.get(
        case, []
    )
    view = ViewStandIn()
    status, _, _ = run(
        post,
        CommandFastPath(view),
        device_id,
        body,
        token=None if case == "no token" else token,
        headers=headers,
        query=b"x=1" if case == "query string" else b"",
    )
    assert status == 299 and view.bodies == [body]
    assert not Command.objects.exists()
    assert not AuditEvent.objects.filter(action="command.create").exists()
    assert not Count.objects.exists()


def test_a_key_another_operator_used_for_the_device_goes_to_the_view(services_up, make_user):
    # Keys are per person (the view makes B a new command); the fast path leaves that to the view.
    camera = create_device(kind="bodycam")
    first, _ = token_issue(user=make_user("operator", username="op-a"))
    second, _ = token_issue(user=make_user("operator", username="op-b"))
    key = [(b"idempotency-key", b"shared-key")]
    view = ViewStandIn()
    assert run(post, CommandFastPath(view), camera.id, body_of(), token=first, headers=key)[0] == 202
    assert run(post, CommandFastPath(view), camera.id, body_of(), token=second, headers=key)[0] == 299
    assert view.bodies == [body_of()] and Command.objects.count() == 1
    # The statement that stored nothing counted nothing either.
    assert Count.objects.filter(name=counted.command("start_recording"), level="d").get().n == 1
    assert AuditEvent.objects.filter(action="command.create").count() == 1
