"""Command delivery over the device websocket: what to send on connect, and the device's ack/result.

At least once: a command goes out over the channel layer when it is created and again on every
connect until the device reports its result (or it expires); the device acts once per command id.

On PostgreSQL a report that moves its command (the common case), and the record of a fast send,
is written from the event loop as one statement (services.command_ack_statement,
command_result_statement, command_fast_send_statement, over apps/core/aiodb.py),
with no hop to a worker thread: the ORM in a thread cost more CPU than the rest of the command's
way, next to the event loop that serves every socket of the process. Anything else (a repeat, a
late or unknown command, SQLite, a database error) goes to the ORM functions, which decide.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import psycopg
from channels.db import database_sync_to_async

from apps.audit.services import audit_stored_unchained
from apps.core import aiodb
from apps.core.realtime import console_send
from apps.core.text import text_problem

from . import claims, services
from .conf import ERROR_MAX
from .models import Command
from .selectors import commands_to_send
from .serializers import command_data

log = logging.getLogger(__name__)

UNKNOWN_COMMAND = ("unknown_command", "No such command for this device.")


@database_sync_to_async
def _pending(device_id) -> list[dict]:
    return [command.device_payload() for command in commands_to_send(device_id=device_id)]


async def commands_on_connect(device) -> list[dict]:
    """Every unfinished, unexpired command for this device, oldest first, as command frames."""
    return await _pending(device.pk)


FAST = "fast"


async def command_sending(device, command: dict, *, layer=None) -> str | None:
    """Right before a frame goes out: "fast" (claimed in Redis: a fresh command from the device's
    group, claims.py), "first", "again", or None (do not send it)."""
    if layer is not None and await claims.claim_for_send(layer, command):
        return FAST
    return await database_sync_to_async(services.command_claim_send)(command_id=command["id"], device=device)


async def command_sent(device, command: dict, *, claim: str | None = "first") -> None:
    """After the frame went out: the send recorded (fast claims), the audit event and console
    update of the first send."""
    if claim == FAST:
        if aiodb.available():
            written = await _written(services.command_fast_send_statement(command_id=command["id"], device=device))
            if written is not None:
                sent, first = written
                if first:
                    await _announce(sent)
                return
        await database_sync_to_async(services.command_record_fast_send)(command_id=command["id"], device=device)
    elif claim == "first":
        await database_sync_to_async(services.command_record_sent)(command_id=command["id"], device=device)


def _command_id(frame: dict) -> tuple[uuid.UUID | None, tuple[str, str] | None]:
    value = frame.get("command_id")
    if not isinstance(value, str):
        return None, ("invalid", f"{frame['type']}.command_id must be a string.")
    try:
        return uuid.UUID(value), None
    except ValueError:
        return None, UNKNOWN_COMMAND


async def _written(statement: tuple[str, list]) -> tuple[Command, Any] | None:
    """Runs a report statement from the event loop: (the command, the statement's last column)
    when it moved its command. None: nothing was written (no connection, nothing to move), or a
    database error left it unknown; the ORM function then decides."""
    try:
        row = await aiodb.fetchone(*statement)
    except aiodb.NotStarted:
        return None
    except psycopg.Error as exc:  # applied entirely or not at all: the ORM function sees which
        log.warning("a device report could not be written from the event loop: %s", exc)
        return None
    return None if row is None else services.report_row(row)


async def _announce(command: Command) -> None:
    """What _transition does after its commit: the waiting audit event chained soon, the console told."""
    audit_stored_unchained()
    await console_send("command.update", command_data(command))


async def _moved(statement: tuple[str, list]) -> bool:
    """An ack or result written from the event loop (see _written): True when it moved its command."""
    written = await _written(statement)
    if written is None:
        return False
    command, notices = written
    await _announce(command)
    if notices:
        await database_sync_to_async(services.command_notify_officer_soon)(command_id=command.pk)
    return True


async def command_ack(device, frame: dict) -> tuple[str, str] | None:
    command_id, problem = _command_id(frame)
    if problem:
        return problem
    if aiodb.available() and await _moved(services.command_ack_statement(command_id=command_id, device=device)):
        return None
    outcome = await database_sync_to_async(services.command_ack)(command_id=command_id, device=device)
    return UNKNOWN_COMMAND if outcome == services.UNKNOWN else None


async def command_result(device, frame: dict) -> tuple[str, str] | None:
    command_id, problem = _command_id(frame)
    if problem:
        return problem
    ok = frame.get("ok")
    if not isinstance(ok, bool):
        return ("invalid", "result.ok must be true or false.")
    error = frame.get("error")
    if error is not None and not isinstance(error, str):
        return ("invalid", "result.error must be a string.")
    if error is not None and len(error) > ERROR_MAX:
        return ("invalid", f"result.error must be at most {ERROR_MAX} characters.")
    if error is not None and (unstorable := text_problem(error)):
        return ("invalid", f"result.error {unstorable}.")
    if aiodb.available() and await _moved(
        services.command_result_statement(command_id=command_id, device=device, ok=ok, error=error or "")
    ):
        return None
    outcome = await database_sync_to_async(services.command_result)(
        command_id=command_id, device=device, ok=ok, error=error or ""
    )
    return UNKNOWN_COMMAND if outcome == services.UNKNOWN else None
