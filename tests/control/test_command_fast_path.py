"""The command POST answered on the event loop (apps/control/fastpath.py), against the real
PostgreSQL and Redis: what it stores, announces and audits is what the API view would, and
everything it does not answer reaches the view unchanged, with its body."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.db import connection, connections
from django.utils import timezone

from apps.accounts.authentication import token_confirmed_sql
from apps.accounts.models import ApiToken, User
from apps.accounts.permissions import COMMAND_ROLES
from apps.accounts.services import token_issue
from apps.audit import sealer
from apps.audit.context import AuditContext
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify_chain
from apps.control import services
from apps.control.fastpath import CommandFastPath
from apps.control.models import Command
from apps.core.realtime import CONSOLE_GROUP, device_group
from apps.core.retry import DB_ERRORS
from apps.counters import names as counted
from apps.counters.models import Count
from tests.control.conftest import SOCKET_WAIT, command_inserts_fail, create_device, run
from tests.helpers import ViewStandIn, asgi_request

pytestmark = pytest.mark.django_db(transaction=True)  # the loop's own connection sees committed rows only


async def post(
    app, device_id, body: bytes, *, token: str | None, headers=(), query: bytes = b"", content_type=b"application/json"
):
    return await asgi_request(
        app,
        "POST",
        f"/api/v1/devices/{device_id}/commands",
        body=body,
        query=query,
        headers=[
            (b"content-type", content_type),
            *([(b"authorization", f"Bearer {token}".encode())] if token else []),
            *headers,
        ],
    )


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
    assert sealer.wait_idle()  # woken once the answer was out, the sealer chained the event
    assert AuditEvent.objects.get(pk=event.pk).seq is not None
    verdict = audit_verify_chain()
    assert verdict.ok, verdict.problems


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
        "plate reader",
        "query string",
        "accepts no json",
        "not json",
        # a header given twice: Django joins the values (two tokens are a 401 there), where the
        # fast path took the last (a command stored for the second token)
        "two authorizations",
        "two content types",
        "two keys",
        "another charset",  # the view decodes the body in it; the fast path read UTF-8
    ],
)
def test_what_the_fast_path_does_not_answer_reaches_the_view_with_its_body_and_nothing_stored(
    services_up, make_user, case
):
    role = case if case in ("clerk", "officer", "it") else "operator"
    token, _ = token_issue(user=make_user(role, username=f"u-{role}"))
    camera = create_device(kind="alpr" if case == "plate reader" else "bodycam", revoked=case == "revoked")
    device_id = "00000000-0000-4000-8000-000000000000" if case == "unknown device" else camera.id
    body = b'{"action": "fly", "reason": "x"}' if case == "bad body" else body_of()
    headers = {
        "bad key": [(b"idempotency-key", b"caf\xc3\xa9")],
        "accepts no json": [(b"accept", b"text/html")],
        "not json": [(b"content-type", b"application/jsonx")],  # the view's parser: 415
        "two authorizations": [(b"authorization", f"Bearer {token}".encode())],
        "two content types": [(b"content-type", b"application/json")],
        "two keys": [(b"idempotency-key", b"first"), (b"idempotency-key", b"second")],
    }.get(case, [])
    view = ViewStandIn()
    status, _, _ = run(
        post,
        CommandFastPath(view),
        device_id,
        body,
        token=None if case == "no token" else token,
        headers=headers,
        query=b"x=1" if case == "query string" else b"",
        content_type={
            "two authorizations": b"application/json",
            "two content types": b"text/plain",
            "another charset": b"application/json; charset=latin-1",
        }.get(case, b"application/json"),
    )
    assert status == 299 and view.bodies == [body]
    assert not Command.objects.exists()
    assert not AuditEvent.objects.filter(action="command.create").exists()
    assert not Count.objects.exists()


@pytest.mark.parametrize("content_type", [b"application/json; charset=utf-8", b'application/json; charset="UTF-8"'])
def test_json_declared_utf_8_is_answered_by_the_fast_path(services_up, operator, content_type):
    camera = create_device(kind="bodycam")
    token, _ = token_issue(user=operator)
    view = ViewStandIn()
    status, _, _ = run(post, CommandFastPath(view), camera.id, body_of(), token=token, content_type=content_type)
    assert status == 202 and view.bodies == []
    assert Command.objects.count() == 1


@pytest.mark.parametrize("change", ["token revoked", "token expired", "deactivated", "made a clerk", "made superuser"])
def test_a_cached_token_is_confirmed_by_the_storing_statement(services_up, operator, change):
    # The second POST takes the token from this process's cache without asking Redis whether it is
    # current; a change the generation never heard of (a queryset update, no signal) still stops it.
    camera = create_device(kind="bodycam")
    token, record = token_issue(user=operator)
    view = ViewStandIn()
    assert run(post, CommandFastPath(view), camera.id, body_of(), token=token)[0] == 202  # now cached
    assert run(post, CommandFastPath(view), camera.id, body_of(), token=token)[0] == 202  # from the cache
    now = timezone.now()
    updates = {
        "token revoked": lambda: ApiToken.objects.filter(pk=record.pk).update(revoked_at=now),
        "token expired": lambda: ApiToken.objects.filter(pk=record.pk).update(expires_at=now),
        "deactivated": lambda: User.objects.filter(pk=operator.pk).update(is_active=False),
        "made a clerk": lambda: User.objects.filter(pk=operator.pk).update(role="clerk"),
        "made superuser": lambda: User.objects.filter(pk=operator.pk).update(is_superuser=True),
    }
    updates[change]()
    status, _, _ = run(post, CommandFastPath(view), camera.id, body_of(), token=token)
    assert status == 299 and view.bodies == [body_of()]  # the view answers (401 or 403)
    assert Command.objects.count() == 2
    assert AuditEvent.objects.filter(action="command.create").count() == 2


def test_the_report_and_storing_statements_keep_within_psycopgs_query_cache(services_up, operator):
    # psycopg converts a query's placeholders once and caches that only for queries of at most
    # 50 parameters and 4 KiB: beyond, every command paid the conversion again on the event loop.
    from psycopg import _queries

    camera = create_device(kind="bodycam")
    _token, record = token_issue(user=operator)
    command = services.command_new(
        device_id=camera.id, requested_by=operator, action="start_recording", reason="x", ttl_seconds=60
    )
    context = AuditContext(actor=operator, source_ip="10.1.2.3")
    device = camera.device
    statements = [
        services.command_create_statement(
            command=command, context=context, condition=token_confirmed_sql(record, COMMAND_ROLES)
        ),
        services.command_ack_statement(command_id=command.pk, device=device),
        services.command_result_statement(command_id=command.pk, device=device, ok=True),
        services.command_result_statement(command_id=command.pk, device=device, ok=False, error="lens"),
        services.command_fast_send_statement(command_id=command.pk, device=device),
    ]
    for sql, params in statements:
        assert len(params) <= _queries.MAX_CACHED_STATEMENT_PARAMS, sql
        assert len(sql.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH, sql


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


def test_a_token_not_cached_here_is_read_without_waiting_for_djangos_sync_thread(services_up, operator):
    # A slow page holds Django's one thread for sync views: the operator's command does not wait for it.
    camera = create_device(kind="bodycam")
    token, _ = token_issue(user=operator)  # not read by this process yet: not in its cache

    async def scenario():
        released = threading.Event()
        busy = asyncio.ensure_future(sync_to_async(released.wait)(SOCKET_WAIT))  # the slow view
        try:
            answer = await post(CommandFastPath(ViewStandIn()), camera.id, body_of(), token=token)
            still_busy = not busy.done()
        finally:
            released.set()
            await busy
        return answer, still_busy

    (status, _, body), still_busy = run(scenario)
    assert status == 202, body
    assert still_busy  # answered while the slow view still held the thread
    assert Command.objects.get(pk=json.loads(body)["id"]).requested_by_id == operator.pk


class CuttingProxy:
    """A TCP proxy in front of PostgreSQL that, once armed, loses the connection carrying `marker`
    the way a restart does: before the statement reaches PostgreSQL ("before"), or after
    PostgreSQL committed it and answered, the answer never reaching the client ("after")."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.marker: bytes | None = None
        self.mode = ""
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, marker: bytes, mode: str) -> None:
        self.marker, self.mode = marker, mode

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            cut = threading.Event()
            threading.Thread(target=self._upstream, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._downstream, args=(server, client, cut), daemon=True).start()

    def _upstream(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                if self.marker is not None and self.marker in chunk:
                    self.marker, self.cuts = None, self.cuts + 1
                    if self.mode == "before":
                        break
                    cut.set()  # the answer to this chunk is dropped
                server.sendall(chunk)
        if not cut.is_set():
            _close(client, server)

    def _downstream(self, server: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while chunk := server.recv(65536):
                if cut.is_set():
                    break  # PostgreSQL answered: the statement is committed; the client never hears it
                client.sendall(chunk)
        _close(client, server)

    def close(self) -> None:
        self.listener.close()


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@pytest.fixture
def cutting_proxy(services_up):
    settings_dict = connections.settings["default"]
    proxy = CuttingProxy(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    real_port = settings_dict["PORT"]
    settings_dict["PORT"] = str(proxy.port)  # the fast path's next pool connects through it
    yield proxy
    settings_dict["PORT"] = real_port
    proxy.close()


@pytest.mark.parametrize("mode", ["after", "before"])
def test_a_connection_lost_under_the_storing_statement_answers_the_one_stored_command(cutting_proxy, operator, mode):
    # PostgreSQL restarting while the statement commits: the fast path cannot tell whether it was
    # stored. "after": it was, and answering 503 would make the operator's retry a second command.
    camera = create_device(kind="bodycam")
    token, _ = token_issue(user=operator)
    view = ViewStandIn()
    cutting_proxy.arm(b"Lost mid-commit", mode)

    async def scenario():
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        device_channel = await layer.new_channel()
        await layer.group_add(device_group(camera.id), device_channel)
        answer = await post(CommandFastPath(view), camera.id, body_of(reason="Lost mid-commit"), token=token)
        if answer[0] != 202:
            return answer, None
        return answer, await asyncio.wait_for(layer.receive(device_channel), SOCKET_WAIT)

    (status, _, body), to_device = run(scenario)
    assert cutting_proxy.cuts == 1  # the connection was lost under the statement
    assert status == 202, body
    assert view.bodies == []
    command = Command.objects.get(reason="Lost mid-commit")  # stored once
    assert json.loads(body)["id"] == str(command.pk)
    assert to_device["command"] == command.device_payload()
    assert AuditEvent.objects.filter(action="command.create", object_id=str(command.pk)).count() == 1
    assert Count.objects.filter(name=counted.command("start_recording"), level="d").get().n == 1
    verdict = audit_verify_chain()
    assert verdict.ok, verdict.problems


def test_a_statement_postgresql_refuses_answers_503_and_stores_nothing(services_up, operator):
    camera = create_device(kind="bodycam")
    token, _ = token_issue(user=operator)
    with command_inserts_fail("P0001"):  # PostgreSQL refuses it and says so: nothing stored, no doubt
        status, headers, body = run(post, CommandFastPath(ViewStandIn()), camera.id, body_of(), token=token)
    assert status == 503 and json.loads(body)["error"]["code"] == "unavailable"
    assert headers[b"retry-after"] == b"2"  # as the view's 503 says it
    assert not Command.objects.exists()
    assert not AuditEvent.objects.filter(action="command.create").exists()


def test_the_orm_path_reads_whether_a_command_is_stored_over_a_new_connection(services_up, operator):
    # What command_create asks when its connection was lost around the commit.
    camera = create_device(kind="bodycam")
    command, _ = services.command_create(
        device=camera.device, requested_by=operator, action="start_recording", reason="Stored"
    )
    with pytest.raises(DB_ERRORS), connection.cursor() as cursor:  # the connection dies (a restart)
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    assert services.command_stored_after_all(command_id=command.pk)
    assert not services.command_stored_after_all(command_id=uuid.uuid4())
