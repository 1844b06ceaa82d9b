"""The operator's command POST, answered on the event loop with no worker thread.

`POST /api/v1/devices/{id}/commands` is the path between an operator's click and a camera that
starts recording. Through Django's middleware, DRF and a worker thread it cost several times the
bare channel layer (bench/command_latency.py): most of it waiting for the GIL behind the event
loop, which serves every socket of the process. This ASGI wrapper answers the common case
itself, on the loop:

- a person's bearer token, from this process's token cache without asking Redis whether it is
  still current (accounts.authentication.token_cached_unconfirmed: the storing statement confirms
  it), else as every request reads it (token_for_bearer_async: the cache under Redis's generation,
  else PostgreSQL, on the loop too), admitted by the view's own permission class (CanCommand);
- the body parsed by the view's own parser and validated by its serializer (an operator's
  everyday body by the serializer's quick reading, CommandCreateIn.plain, held to the same answers
  by a test); the Idempotency-Key header checked by the view's own function;
- ONE statement that checks the device (there, not revoked, no command with this key yet) and the
  operator (the token unrevoked and unexpired, the person active and still an operator:
  token_confirmed_sql) and stores the command, its count and its audit event together
  (services.command_create_statement),
  over psycopg's async connection (apps/core/aiodb.py);
- the command sent to the device's group, then the console's `command.update`, then the answer:
  stored before sent, as command_create does.

Anything else (no or unknown credentials, another role, a body the serializer refuses, an unknown
or revoked device, an Idempotency-Key used before, SQLite, a database that cannot be reached)
goes to the API view unchanged, the body replayed, so that every error has one source
(apps/control/apis.py): a token revoked, or a person deactivated or given another role, since
this process cached the token stores nothing here, and the view refuses it. Only an error of the
storing statement itself is answered here. When PostgreSQL reported it, nothing was stored: 503.
When the connection was lost under it (PostgreSQL restarting mid-commit), the statement may have
committed: the same statement runs again, with the same command id, once the database answers
(`_store`). The id is unique, so it stores the command if the first did not and fails if the first
did (then the command is read back by its id): the operator gets the 202 of the command that was
stored, or a 503 when nothing was, never a 503 for a stored command. A 503 also after
services.SETTLE_SECONDS without an answer (the command then may or may not be stored: the
Idempotency-Key makes the operator's retry safe).
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import re
from types import SimpleNamespace
from typing import Any

import psycopg
from django.conf import settings
from psycopg import errors as pg_errors

from apps.accounts.authentication import (
    token_cached_unconfirmed,
    token_confirmed_sql,
    token_for_bearer_async,
    token_use_due,
    token_used,
)
from apps.accounts.models import ApiToken
from apps.accounts.permissions import COMMAND_ROLES, CanCommand
from apps.accounts.tokens import USER_PREFIX, bearer_from_header
from apps.audit.context import AuditContext, client_ip
from apps.audit.services import audit_stored_unchained
from apps.core import aiodb, retry
from apps.core.errors import InvalidInput
from apps.core.fastpaths import (
    accepts_json,
    allowed_host,
    declared_length,
    headers_of,
    read_body,
    replaying,
    respond_json,
    respond_unavailable,
    run_later,
    utf8_json,
)
from apps.core.parsers import SafeJSONParser
from apps.core.realtime import console_send, device_group, group_send
from apps.devices.models import DeviceKind

from . import services
from .serializers import CommandCreateIn, command_data, idempotency_key_of

log = logging.getLogger(__name__)

_COMMANDS = re.compile(r"^/api/v1/devices/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/commands\Z")


class CommandFastPath:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and _COMMANDS.match(scope["path"])
            and aiodb.available()
        ):
            await self._post(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _post(self, scope, receive, send):
        headers = headers_of(scope)
        if headers is None:  # a header given twice: the view reads it as Django does
            await self.app(scope, receive, send)
            return
        token = bearer_from_header(headers.get(b"authorization"))
        limit = settings.RTCC_MAX_JSON_BODY
        length = declared_length(headers, limit)
        if (
            not token
            or not token.startswith(USER_PREFIX)
            or length is None
            or scope.get("query_string")
            or allowed_host(headers) is None
            or not utf8_json(headers.get(b"content-type"))
            or not accepts_json(headers.get(b"accept"))
        ):
            await self.app(scope, receive, send)
            return
        read = await read_body(receive, limit)
        if read is None:
            return
        body, within = read
        answer = None
        if within and len(body) == length:
            try:
                answer = await _create(scope, headers, token, body)
            except _NotStored:
                await respond_unavailable(send)
                return
        if answer is None:
            await self.app(scope, replaying(body, receive), send)
            return
        payload, later = answer
        try:
            await respond_json(send, 202, payload)
        finally:
            # The sealer (a thread) wakes only now: waking it earlier made it take the GIL from
            # the loop between the commit and the send to the device. The event is committed; it
            # waits for its place in the chain in any case (apps/audit/sealer.py).
            audit_stored_unchained()
        run_later(later)


class _NotStored(Exception):
    """The command was not stored, or it could not be learnt whether it was (services.SETTLE_SECONDS)."""


# The connection was lost under the statement: PostgreSQL may have committed it or not.
_UNKNOWN_OUTCOME = (psycopg.OperationalError, psycopg.InterfaceError)


async def _store(command, context: AuditContext, record: ApiToken) -> tuple | None:
    """The storing statement's row, or None when it stored nothing (the view then says why).

    Raises aiodb.NotStarted when it never reached the database, UniqueViolation when another
    request with this Idempotency-Key stored first, and _NotStored when it failed and nothing was
    stored, or when it cannot be learnt within services.SETTLE_SECONDS whether it was."""
    statement = services.command_create_statement(
        command=command, context=context, condition=token_confirmed_sql(record, COMMAND_ROLES)
    )
    try:
        return await aiodb.fetchone(*statement)
    except (aiodb.NotStarted, pg_errors.UniqueViolation):
        raise
    except _UNKNOWN_OUTCOME:
        log.warning("the connection was lost while a command was stored; settling whether it was", exc_info=True)
    except Exception as exc:  # PostgreSQL refused the statement: nothing was stored
        log.exception("a command could not be stored")
        raise _NotStored from exc
    for pause in retry.pauses(services.SETTLE_SECONDS):
        await asyncio.sleep(pause)
        try:
            try:
                stored = await aiodb.fetchone(*statement)
            except pg_errors.UniqueViolation:  # the first try's commit (or another request's key)
                stored = None
            if stored is None:  # stored nothing now: is the first try's command there?
                stored = await aiodb.fetchone(*services.command_stored_statement(command_id=command.pk))
            log.warning("settled: the command %s %s stored", command.pk, "is" if stored else "was not")
            return stored
        except Exception:  # not reachable yet, or lost again: the statement is still safe to repeat
            log.debug("settling a command: the database did not answer yet", exc_info=True)
    log.error("could not learn whether the command %s was stored", command.pk)
    raise _NotStored


def _input(headers: dict[bytes, bytes], body: bytes) -> tuple[dict, str | None] | None:
    """The validated body and Idempotency-Key, or None when the view must answer (and refuse)."""
    try:
        parsed = SafeJSONParser().parse(io.BytesIO(body), "application/json", {})
    except Exception:
        return None
    validated = CommandCreateIn.plain(parsed)
    if validated is None:
        data = CommandCreateIn(data=parsed)
        if not data.is_valid():
            return None
        validated = data.validated_data
    raw_key = headers.get(b"idempotency-key")
    try:
        key = idempotency_key_of(raw_key.decode("latin-1") if raw_key is not None else None)
    except InvalidInput:
        return None
    return validated, key


async def _operator(token: str):
    """The token record of an operator who may command (to be confirmed by the storing
    statement when it came from this process's cache unconfirmed), or None."""
    record = token_cached_unconfirmed(token) or await token_for_bearer_async(token)
    as_request: Any = SimpleNamespace(user=record.user) if record is not None else None
    if record is None or not CanCommand().has_permission(as_request, None):  # type: ignore[arg-type]
        return None
    return record


async def _create(scope, headers: dict[bytes, bytes], token: str, body: bytes):
    """(the stored command's payload, bookkeeping to run later), or None when the API view must answer."""
    validated = _input(headers, body)
    if validated is None:
        return None
    data, key = validated
    device_id = _COMMANDS.match(scope["path"]).group(1)  # type: ignore[union-attr]
    record = await _operator(token)
    if record is None:
        return None  # the view answers 401 or 403
    user = record.user
    command = services.command_new(device_id=device_id, requested_by=user, **data)
    command.idempotency_key = key
    context = AuditContext(actor=user, source_ip=client_ip(scope))
    try:
        stored = await _store(command, context, record)
    except aiodb.NotStarted:
        return None
    except pg_errors.UniqueViolation:
        return None  # another request with this key got there first: the view replays it
    if stored is None:
        return None  # nothing stored: the view answers 404 or 409, or replays the command this key made
    kind, has_push_token = stored
    command._state.adding, command._state.db = False, "default"
    await group_send(device_group(command.device_id), {"type": "device.command", "command": command.device_payload()})
    payload = command_data(command)
    await console_send("command.update", payload)
    later = []
    if token_use_due(record):
        later.append(functools.partial(token_used, record))
    if kind == DeviceKind.PHONE and has_push_token:
        later.append(functools.partial(services.command_wake_phone_soon, command_id=command.pk))
    return payload, later
