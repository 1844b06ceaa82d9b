"""Every write to recording commands: creation, the state transitions, cancel and expiry.

Transitions are conditional UPDATEs (`... WHERE state IN (...)`), so two processes racing
on one command (a result and the expiry task, a cancel and an ack) cannot both win. Each
transition that happens is audited and pushed to the console after commit.

States: queued -> sent -> delivered -> succeeded | failed; queued/sent -> cancelled (operator)
or expired (TTL). A delivered command that never reports a result is failed by the sweep
`RTCC_COMMAND_RESULT_GRACE` seconds after its expiry. Reports about a command that is already
expired or cancelled change nothing but are audited (`command.late_ack` / `command.late_result`).

The officer wearing the camera is told on their phones when a remote start/stop SUCCEEDS
(not on creation: a command that never reached the camera changed nothing they need to know).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.audit.services import AuditContext, audit_event, audit_record, event_insert_select
from apps.core.errors import ApplicationError, Conflict
from apps.core.realtime import console_send_after_commit, device_group, group_send_after_commit, group_send_quietly
from apps.core.retry import DB_ERRORS, db_retried
from apps.core.rows import Columns
from apps.counters import names as counted
from apps.counters.services import counter_add, counts_upsert
from apps.devices.models import Device, DeviceKind
from apps.integrations import push
from apps.integrations.push import PushMessage, PushResult

from . import claims, conf
from .models import OPEN_STATES, UNACKED_STATES, Command, CommandAction, CommandNotice, CommandState, NoticeState
from .serializers import command_data

log = logging.getLogger(__name__)


def _fingerprint(*, action: str, reason: str, ttl_seconds: int) -> str:
    body = json.dumps({"action": action, "reason": reason, "ttl_seconds": ttl_seconds}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _details(command: Command, **extra) -> dict:
    return {
        "device": str(command.device_id),
        "action": command.action,
        "reason": command.reason,
        "state": command.state,
        **extra,
    }


def _publish(command: Command, *, to_device: bool = False) -> None:
    """After commit: the command to its device's socket (wherever it is), and the update to the console."""
    if to_device:
        group_send_after_commit(
            device_group(command.device_id), {"type": "device.command", "command": command.device_payload()}
        )
    console_send_after_commit("command.update", command_data(command))


def _replay(existing: Command, fingerprint: str) -> tuple[Command, bool]:
    """The first command made with this key, whatever this request's body ("same key = same
    command back"): the answer is that command, so a client that changed its body sees so."""
    if existing.request_fingerprint != fingerprint:
        log.warning(
            "Idempotency-Key of command %s used again with a different body: the first command answers",
            existing.pk,
        )
    return existing, False


def command_create(
    *,
    device: Device,
    requested_by,
    action: str,
    reason: str,
    ttl_seconds: int | None = None,
    idempotency_key: str | None = None,
    context: AuditContext | None = None,
) -> tuple[Command, bool]:
    """Stores a command (queued) and sends it after commit. Returns (command, created).

    The same Idempotency-Key from the same person for the same device returns the first command.
    """
    command = command_new(
        device_id=device.pk, requested_by=requested_by, action=action, reason=reason, ttl_seconds=ttl_seconds
    )
    fingerprint = command.request_fingerprint
    if idempotency_key:
        existing = Command.objects.filter(
            requested_by=requested_by, device=device, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return _replay(existing, fingerprint)
    if device.revoked:
        raise Conflict("This device is revoked; it can no longer be commanded.", code="device_revoked")
    if device.kind == DeviceKind.ALPR:  # it sends reads over HTTPS and holds no socket to hear one
        raise Conflict("A plate reader takes no commands; it records plates, not video.", code="device_not_commandable")
    command.device = device
    command.idempotency_key = idempotency_key or None
    try:
        with transaction.atomic():
            command.save(force_insert=True)
            counter_add(name=counted.command(action), at=command.created_at)  # the transparency report's count
            audit_record(
                action="command.create",
                actor=requested_by,
                obj=command,
                context=context,
                details=_details(command, ttl_seconds=command.ttl_seconds, device_kind=device.kind),
            )
            _announce_created(command, device)
    except IntegrityError:
        if not idempotency_key:
            raise
        # Another request with the same key got there first: answer as its replay.
        existing = Command.objects.get(requested_by=requested_by, device=device, idempotency_key=idempotency_key)
        return _replay(existing, fingerprint)
    except DB_ERRORS:
        # The connection was lost, perhaps under the commit: a stored command is answered as one.
        if connection.in_atomic_block or not command_stored_after_all(command_id=command.pk):
            raise
        log.warning("settled: the command %s is stored though its commit was not answered", command.pk)
        _announce_created(command, device)  # no transaction open: at once
    return command, True


def _announce_created(command: Command, device: Device) -> None:
    """After commit (at once outside a transaction): a new command to its device's socket and the
    console, and the device woken by a push when it is a phone."""
    _publish(command, to_device=True)
    if device.kind == DeviceKind.PHONE and device.push_token:
        transaction.on_commit(lambda: command_wake_phone_soon(command_id=command.pk))


SETTLE_SECONDS = 10.0  # how long a request waits to learn whether its command was stored


def command_stored_after_all(*, command_id) -> bool:
    """After the connection was lost around a command's commit: whether the command is stored,
    read once the database answers again; False when it did not answer within SETTLE_SECONDS.
    (The command fast path settles this by running its statement again, apps/control/fastpath.py.)"""
    try:
        return db_retried(Command.objects.filter(pk=command_id).exists, seconds=SETTLE_SECONDS)
    except DB_ERRORS:
        return False


def command_new(*, device_id, requested_by, action: str, reason: str, ttl_seconds: int | None) -> Command:
    """A new command (queued), not stored yet: what command_create and the command fast path store."""
    ttl = ttl_seconds or conf.default_ttl()
    now = timezone.now()
    return Command(
        device_id=device_id,
        requested_by=requested_by,
        action=action,
        reason=reason,
        ttl_seconds=ttl,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        request_fingerprint=_fingerprint(action=action, reason=reason, ttl_seconds=ttl),
    )


# The command fast path (fastpath.py) --------------------------------------------------------------
# On PostgreSQL, from the event loop: what command_create writes in its transaction (the command,
# its count, its audit event) as ONE statement, in autocommit, so it stands or falls as a whole.
# The audit event is stored unchained, as any append that finds the chain head taken, and chained
# by the sealer within the seal interval (audit_stored_unchained after the statement).

_COMMAND_COLUMNS = [str(f.column) for f in Command._meta.concrete_fields]


def command_create_statement(
    *, command: Command, context: AuditContext | None, condition: tuple[str, list]
) -> tuple[str, list]:
    """(SQL, params): the command, the transparency report's count and the `command.create` audit
    event, in one statement, if its device exists, is not revoked, is not a plate reader and has
    no command (anyone's) with this Idempotency-Key yet, and `condition` (SQL, params) holds (the
    requester's token and role, confirmed as the command is stored). Its row: the device's kind
    and whether it has a push token; no row when nothing was stored (then the view decides: 401,
    403, 404, 409, a replay, or a new command of another person)."""
    condition_sql, condition_args = condition
    db = connections[DEFAULT_DB_ALIAS]  # once: `connection` finds it again for every field it is passed to
    values = [f.get_db_prep_save(getattr(command, f.attname), db) for f in Command._meta.concrete_fields]
    count = counts_upsert(
        counts={counted.command(command.action): 1}, at=command.created_at, when="EXISTS (SELECT 1 FROM command)"
    )
    assert count is not None
    event, details_json = audit_event(
        action="command.create",
        actor=command.requested_by,
        obj=command,
        context=context,
        details=_details(command, ttl_seconds=command.ttl_seconds),
    )
    event_sql, event_args = event_insert_select(
        event,
        details_json,
        source="device, command",
        details_sql="%s::jsonb || jsonb_build_object('device_kind', device.kind)",
    )
    commands, devices = Command._meta.db_table, Device._meta.db_table
    sql = (
        f"WITH device AS (SELECT d.kind, COALESCE(d.push_token, '') <> '' AS pushable FROM {devices} d"  # noqa: S608
        f" WHERE d.id = %s AND d.revoked_at IS NULL AND d.kind <> %s AND NOT EXISTS (SELECT 1 FROM {commands} c"
        f" WHERE c.device_id = d.id AND c.idempotency_key = %s) AND {condition_sql}),"
        f" command AS (INSERT INTO {commands} ({', '.join(_COMMAND_COLUMNS)})"
        f" SELECT {', '.join(['%s'] * len(values))} FROM device RETURNING id),"
        f" counted AS ({count[0]}),"
        f" event AS ({event_sql})"
        " SELECT device.kind, device.pushable FROM device, command"
    )
    params = [command.device_id, DeviceKind.ALPR.value, command.idempotency_key, *condition_args, *values]
    params += [*count[1], *event_args]
    return sql, params


def command_stored_statement(*, command_id) -> tuple[str, list]:
    """(SQL, params): command_create_statement's row (its device's kind and whether it has a push
    token) for the command with this id when it is stored; no row when it is not."""
    commands, devices = Command._meta.db_table, Device._meta.db_table
    sql = (
        f"SELECT d.kind, COALESCE(d.push_token, '') <> '' FROM {commands} c"  # noqa: S608
        f" JOIN {devices} d ON d.id = c.device_id WHERE c.id = %s"
    )
    return sql, [command_id]


# The device's reports, from the event loop (delivery.py) -------------------------------------------
# On PostgreSQL: what command_ack and command_result write in their transaction (the transition,
# its audit event and, for a success, the officer's notices) as ONE statement in autocommit, so it
# stands or falls as a whole. The event is stored unchained, chained by the sealer
# (audit_stored_unchained after the statement). A report that moves nothing (a repeat, a late or
# unknown command) goes to command_ack / command_result, which say what it is.

# _details(command) from the updated row, in SQL (the extras are merged over it, as in _details).
_DETAILS_SQL = (
    "jsonb_build_object('device', moved.device_id::text, 'action', moved.action,"
    " 'reason', moved.reason, 'state', moved.state) || %s::jsonb"
)


def _moved_event(*, action: str, device: Device, command_id, details: dict, source: str) -> tuple[str, list]:
    """(SQL, params): the device's audit event of a command the statement moved (`source`: the
    `moved` CTE, with any condition), its details _details' of the moved row."""
    event, details_json = audit_event(
        action=action,
        actor=device,
        object_type="command",  # Command._meta.model_name, as audit_record names it
        object_id=command_id,
        details=details,
    )
    return event_insert_select(event, details_json, source=source, details_sql=_DETAILS_SQL)


@functools.cache
def _report_columns() -> Columns:
    return Columns(Command, "c")


def _report_statement(
    *,
    command_id,
    device: Device,
    from_states,
    to: str,
    now,
    details: dict,
    notify_officer: bool,
    sets: dict[str, object],
    first_only: dict[str, object],
) -> tuple[str, list]:
    """(SQL, params): `from_states` -> `to` with `sets` (and `first_only` where still NULL) for a
    command acknowledged in time (acked_in_time), the `command.<to>` event, and, with
    notify_officer, a notice for each phone of the officer wearing the device. Its row: the
    command's columns (report_row reads them), then the notices made."""
    q = connection.ops.quote_name
    columns = _report_columns()
    assignments = ["state = %s"] + [f"{q(name)} = %s" for name in sets]
    assignments += [f"{q(name)} = COALESCE(c.{q(name)}, %s)" for name in first_only]
    event_sql, event_args = _moved_event(
        action=f"command.{to}", device=device, command_id=command_id, details=details, source="moved"
    )
    table, devices = q(Command._meta.db_table), q(Device._meta.db_table)
    sql = (
        f"WITH moved AS (UPDATE {table} AS c SET {', '.join(assignments)}"  # noqa: S608 (our names, quoted)
        " WHERE c.id = %s AND c.device_id = %s AND c.state = ANY(%s) AND (c.state = %s OR c.expires_at > %s)"
        f" RETURNING {', '.join(columns.sql)}),"
        f" event AS ({event_sql})"
    )
    params = [to, *sets.values(), *first_only.values(), command_id, device.pk, list(from_states)]
    params += [CommandState.DELIVERED, now, *event_args]  # acked_in_time
    if notify_officer:
        sql += (
            f", notices AS (INSERT INTO {q(CommandNotice._meta.db_table)}"  # noqa: S608
            " (command_id, phone_id, state, attempts, next_attempt_at, error)"
            " SELECT moved.id, p.id, %s, 0, %s, '' FROM moved"
            f" JOIN {devices} d ON d.id = moved.device_id JOIN {devices} p ON p.officer_id = d.officer_id"
            " WHERE p.kind = %s AND p.revoked_at IS NULL AND COALESCE(p.push_token, '') <> ''"
            " ON CONFLICT DO NOTHING RETURNING 1)"
            " SELECT moved.*, (SELECT count(*) FROM notices) FROM moved"
        )
        params += [NoticeState.QUEUED, now, DeviceKind.PHONE]
    else:
        sql += " SELECT moved.*, 0 FROM moved"
    return sql, params


def command_ack_statement(*, command_id, device: Device) -> tuple[str, list]:
    """(SQL, params): command_ack's transition (sent -> delivered) and its event, in one statement."""
    now = timezone.now()
    return _report_statement(
        command_id=command_id,
        device=device,
        from_states=UNACKED_STATES,
        to=CommandState.DELIVERED,
        now=now,
        details={},
        notify_officer=False,
        sets={"delivered_at": now},
        first_only={"sent_at": now},
    )


def command_result_statement(*, command_id, device: Device, ok: bool, error: str = "") -> tuple[str, list]:
    """(SQL, params): command_result's transition, its event and the officer's notices, in one statement."""
    now = timezone.now()
    error = _result_error(ok, error)
    return _report_statement(
        command_id=command_id,
        device=device,
        from_states=OPEN_STATES,
        to=CommandState.SUCCEEDED if ok else CommandState.FAILED,
        now=now,
        details={"ok": ok, "error": error},
        notify_officer=ok,
        sets={"finished_at": now, "error": error},
        first_only={"delivered_at": now, "sent_at": now},
    )


def command_fast_send_statement(*, command_id, device: Device) -> tuple[str, list]:
    """(SQL, params): command_record_fast_send in one statement. Its row: the command's columns,
    then whether this was the first send (then the `command.sent` event was stored with it)."""
    q = connection.ops.quote_name
    now = timezone.now()
    command_id = uuid.UUID(str(command_id))  # the frame's text
    event_sql, event_args = _moved_event(
        action="command.sent", device=device, command_id=command_id, details={}, source="moved WHERE moved.first"
    )
    table = q(Command._meta.db_table)
    sql = (
        # The command's row locked first, so that `first` is read from the version that is updated.
        f"WITH old AS (SELECT id, sent_at IS NULL AS first FROM {table}"  # noqa: S608 (our names, quoted)
        " WHERE id = %s AND device_id = %s FOR UPDATE),"
        f" moved AS (UPDATE {table} AS c SET last_sent_at = %s, send_count = c.send_count + 1,"
        " sent_at = COALESCE(c.sent_at, %s), state = CASE WHEN c.state = %s THEN %s ELSE c.state END"
        f" FROM old WHERE c.id = old.id RETURNING {', '.join(_report_columns().sql)}, old.first),"
        f" event AS ({event_sql})"
        " SELECT * FROM moved"
    )
    return sql, [command_id, device.pk, now, now, CommandState.QUEUED, CommandState.SENT, *event_args]


def report_row(row: tuple) -> tuple[Command, Any]:
    """The command a report statement moved, and its last column: how many officer notices it
    stored (ack, result), or whether it was the first send (fast send)."""
    return _report_columns().instance(row[:-1]), row[-1]


def command_notify_officer_soon(*, command_id) -> None:
    """Queues the officer's notices of a success (stored with it)."""
    from .tasks import command_notify_officer

    _enqueue(command_notify_officer, str(command_id))


def command_wake_phone_soon(*, command_id) -> None:
    """Queues the push that wakes a phone to fetch a command (its socket may be asleep)."""
    from .tasks import command_wake_phone

    _enqueue(command_wake_phone, str(command_id))


def _enqueue(task, *args) -> None:
    """Queues a task; a broker hiccup must never undo or fail the command that triggered it."""
    try:
        task.delay(*args)
    except Exception:
        log.exception("could not queue %s%r", task.name, args)


def _transition(
    *,
    command_id,
    device=None,
    from_states,
    to: str,
    actor,
    context: AuditContext | None = None,
    extra_filter: dict | None = None,
    where: Q | None = None,
    details: dict | None = None,
    **updates,
) -> Command | None:
    """Moves one command from one of `from_states` to `to` (and `where`); None when its state did
    not allow it."""
    queryset = Command.objects.filter(pk=command_id, state__in=from_states, **(extra_filter or {}))
    if where is not None:
        queryset = queryset.filter(where)
    if device is not None:
        queryset = queryset.filter(device=device)
    with transaction.atomic():
        if not queryset.update(state=to, **updates):
            return None
        command = Command.objects.select_related("device").get(pk=command_id)
        audit_record(
            action=f"command.{to}",
            actor=actor,
            obj=command,
            context=context,
            details=_details(command, **(details or {})),
        )
        _publish(command)
    return command


# Sending -------------------------------------------------------------------------------------


def command_claim_send(*, command_id, device: Device) -> str | None:
    """Decides, right before a frame goes out, whether a command may be sent to this device.

    "first" (queued -> sent), "again" (a re-send of a sent or delivered command; its state stays)
    or None: never send a command that is cancelled, expired (even before the periodic task
    noticed) or finished.
    One UPDATE on the common path, so the device hears of the command as soon as possible;
    the audit event of the transition follows in command_record_sent.
    """
    now = timezone.now()
    sendable = Command.objects.filter(pk=command_id, device=device, expires_at__gt=now)
    if sendable.filter(state=CommandState.QUEUED).update(
        state=CommandState.SENT, sent_at=now, last_sent_at=now, send_count=F("send_count") + 1
    ):
        return "first"
    if sendable.filter(state__in=(CommandState.SENT, CommandState.DELIVERED)).update(
        last_sent_at=now, send_count=F("send_count") + 1
    ):
        return "again"
    command_expire(command_id=command_id, now=now)  # past its TTL and the task has not run yet
    return None


def command_record_fast_send(*, command_id, device: Device) -> None:
    """After a frame claimed in Redis went out (claims.claim_for_send): the send in the database,
    in one transaction: queued -> sent, `sent_at` on the first send, `last_sent_at` and
    `send_count` always; the first send is audited and announced (a send that came before a
    cancel is recorded too: the frame did go out)."""
    now = timezone.now()
    with transaction.atomic():
        command = Command.objects.select_for_update().filter(pk=command_id, device=device).first()
        if command is None:
            return
        first = command.sent_at is None
        command.last_sent_at, command.send_count = now, command.send_count + 1
        fields = ["last_sent_at", "send_count"]
        if first:
            command.sent_at = now
            fields.append("sent_at")
        if command.state == CommandState.QUEUED:
            command.state = CommandState.SENT
            fields.append("state")
        command.save(update_fields=fields)
        if first:
            audit_record(action="command.sent", actor=device, obj=command, details=_details(command))
            _publish(command)


def command_record_sent(*, command_id, device: Device) -> None:
    """The audit event and console update of queued -> sent (after the frame went out)."""
    with transaction.atomic():
        command = Command.objects.filter(pk=command_id, device=device).first()
        if command is None:
            return
        audit_record(action="command.sent", actor=device, obj=command, details=_details(command))
        _publish(command)


# What the device reports -----------------------------------------------------------------------

UNKNOWN = "unknown"


def acked_in_time(now) -> Q:
    """A device's report may move its command: acknowledged already, or not yet past `expires_at`.
    A command nobody acknowledged by then is expired, whatever the device says later (docs/protocol.md
    section 8), so that its state never depends on whether the expiry sweep ran first."""
    return Q(state=CommandState.DELIVERED) | Q(expires_at__gt=now)


def _late_report(*, command_id, device: Device, kind: str, details: dict) -> str | None:
    """A report about a command that is already final, or past its TTL unacknowledged (expired here
    and now, as the sweep would): harmless. Unknown ids are the caller's error."""
    command = Command.objects.filter(pk=command_id, device=device).first()
    if command is None:
        return UNKNOWN
    command = command_expire_if_due(command=command)
    if command.state in (CommandState.EXPIRED, CommandState.CANCELLED):
        # The device heard of it before it was expired or cancelled: keep the record of what it said.
        audit_record(action=f"command.late_{kind}", actor=device, obj=command, details=_details(command, **details))
    return None


def command_ack(*, command_id, device: Device) -> str | None:
    """The device received the command: sent -> delivered. Duplicates change nothing."""
    now = timezone.now()
    done = _transition(
        command_id=command_id,
        device=device,
        from_states=UNACKED_STATES,
        to=CommandState.DELIVERED,
        actor=device,
        where=acked_in_time(now),
        delivered_at=now,
        sent_at=Coalesce("sent_at", now),
    )
    if done is not None:
        return None
    return _late_report(command_id=command_id, device=device, kind="ack", details={})


def _result_error(ok: bool, error: str) -> str:
    return "" if ok else (error or "The device reported a failure without a message.")


def command_result(*, command_id, device: Device, ok: bool, error: str = "") -> str | None:
    """The device acted (or could not): -> succeeded / failed. Duplicates change nothing.

    A success owes the officer wearing the camera a notice on each of their phones: those are
    stored in the same transaction (CommandNotice) and sent by a task after commit."""
    now = timezone.now()
    to = CommandState.SUCCEEDED if ok else CommandState.FAILED
    error = _result_error(ok, error)
    with transaction.atomic():
        done = _transition(
            command_id=command_id,
            device=device,
            from_states=OPEN_STATES,
            to=to,
            actor=device,
            where=acked_in_time(now),
            details={"ok": ok, "error": error},
            finished_at=now,
            error=error,
            delivered_at=Coalesce("delivered_at", now),
            sent_at=Coalesce("sent_at", now),
        )
        if done is not None and ok and done.device.officer_id and _notices_create(done):
            transaction.on_commit(lambda: command_notify_officer_soon(command_id=done.pk))
    if done is not None:
        return None
    return _late_report(command_id=command_id, device=device, kind="result", details={"ok": ok, "error": error})


# Operator and system ---------------------------------------------------------------------------


def command_cancel(*, command: Command, user, context: AuditContext | None = None) -> Command:
    """Cancels a command the device has not acknowledged yet; afterwards it is 409."""
    command_expire_if_due(command=command)  # past its TTL: expired, not cancellable
    # First, so that no consumer takes a fast claim of it from now on (claims.py); if that cannot
    # be made sure, nothing changes and the operator is asked to try again.
    if not claims.close_for_send(command_id=command.pk, expires_at=command.expires_at):
        raise ApplicationError(
            "The command could not be cancelled just now (the realtime service is unreachable); try again shortly.",
            code="unavailable",
            status=503,
            headers={"Retry-After": "2"},
            extra={"retry_after": 2},
        )
    now = timezone.now()
    done = _transition(
        command_id=command.pk,
        from_states=UNACKED_STATES,
        to=CommandState.CANCELLED,
        actor=user,
        context=context,
        finished_at=now,
        cancelled_by=user,
    )
    if done is None:
        state = Command.objects.values_list("state", flat=True).get(pk=command.pk)
        raise Conflict(
            f"The command is {state}; only a queued or sent command can be cancelled.", code="command_not_cancellable"
        )
    return done


def command_expire(*, command_id, now=None) -> Command | None:
    """An unacknowledged command past its expiry becomes expired (and is never sent after that).

    It finished when its TTL ran out, whenever this runs: readers saw the same (selectors.command_as_read)."""
    now = now or timezone.now()
    return _transition(
        command_id=command_id,
        from_states=UNACKED_STATES,
        to=CommandState.EXPIRED,
        actor=None,
        extra_filter={"expires_at__lte": now},
        finished_at=F("expires_at"),
    )


def command_expire_if_due(*, command: Command) -> Command:
    """Before a write that depends on it (a cancel): a command past its TTL is expired first."""
    if command.state in UNACKED_STATES and command.expires_at <= timezone.now():
        return command_expire(command_id=command.pk) or Command.objects.get(pk=command.pk)
    return command


def commands_expire_soon(*, command_ids: list) -> None:
    """A reader saw these commands past their TTL (and answered `expired`): record the expiry now,
    in the background, rather than wait for the periodic sweep. Reads themselves never write."""
    from .tasks import command_expire as command_expire_task

    for command_id in command_ids:  # the read stored nothing: there is no commit to wait for
        _enqueue(command_expire_task, str(command_id))


def command_expire_due(*, now=None, limit: int | None = None) -> dict:
    """The periodic sweep: expires unacknowledged commands past their TTL, and fails delivered ones
    that never reported a result within the grace period after their expiry."""
    now = now or timezone.now()
    limit = limit or conf.expire_batch()
    expired = 0
    for command_id in (
        Command.objects.filter(state__in=UNACKED_STATES, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", flat=True)[:limit]
    ):
        if command_expire(command_id=command_id, now=now):
            expired += 1
    silent = 0
    cutoff = now - timedelta(seconds=conf.result_grace_seconds())
    message = "The device acknowledged the command but reported no result in time."
    for command_id in (
        Command.objects.filter(state=CommandState.DELIVERED, expires_at__lte=cutoff)
        .order_by("expires_at")
        .values_list("id", flat=True)[:limit]
    ):
        if _transition(
            command_id=command_id,
            from_states=(CommandState.DELIVERED,),
            to=CommandState.FAILED,
            actor=None,
            extra_filter={"expires_at__lte": cutoff},
            finished_at=now,
            error=message,
            details={"error": message},
        ):
            silent += 1
    return {"expired": expired, "failed_without_result": silent}


def command_resend_queued(*, now=None, limit: int | None = None) -> int:
    """The periodic catch-up of creation's send: a command still `queued` some seconds after it
    was stored (the channel layer was down when it committed, or its group message was lost)
    goes to its device's group again. A device that is not connected gets it on connect anyway;
    a connected one claims it like any command (queued -> sent once), so it is never doubled."""
    now = now or timezone.now()
    limit = limit or conf.expire_batch()
    cutoff = now - timedelta(seconds=conf.resend_after_seconds())
    commands = Command.objects.filter(state=CommandState.QUEUED, created_at__lte=cutoff, expires_at__gt=now).order_by(
        "created_at"
    )[:limit]
    resent = 0
    for command in commands:
        if group_send_quietly(
            device_group(command.device_id), {"type": "device.command", "command": command.device_payload()}
        ):
            resent += 1
    return resent


ACTION_WORDS: dict[str, str] = {CommandAction.START_RECORDING: "started", CommandAction.STOP_RECORDING: "stopped"}


# Pushes (run from tasks, after commit) ---------------------------------------------------------


def _push(messages: list) -> list:
    if not messages:
        return []
    try:
        results = push.send_batch(messages)
    except Exception:  # a push is a courtesy on top of the socket: log it, never fail the command
        log.exception("push for a recording command failed")
        return []
    for result in results:
        if not result.ok:
            log.warning("push to a phone failed: %s %s", result.error_code, result.detail)
    return results


def command_wake_phone(*, command_id) -> list:
    """A high-priority FCM data message so a backgrounded phone app wakes up and connects: once
    per command (whoever marks it woken sends it), again by the sweep when the push failed."""
    command = Command.objects.select_related("device").filter(pk=command_id).first()
    if command is None or command.state not in UNACKED_STATES:
        return []  # already delivered, or no longer to be delivered
    device = command.device
    if device.revoked or not device.push_token:
        return []
    woken = Command.objects.filter(pk=command.pk, woken_at__isnull=True)
    if not woken.update(woken_at=timezone.now()):
        return []  # the task and the sweep both came: one push
    data = {
        "type": "command",
        "command_id": str(command.id),
        "action": command.action,
        "expires_at": command.expires_at.isoformat(),
    }
    results = _push(
        [PushMessage(token=device.push_token, data=data, priority="high", collapse_key=f"command-{command.id}")]
    )
    if not any(result.ok for result in results):
        Command.objects.filter(pk=command.pk).update(woken_at=None)  # not sent: the sweep tries again
    return results


def command_wake_due(*, now=None, limit: int | None = None) -> int:
    """The periodic catch-up of the wake push: a phone's command still `queued` some seconds after
    it was stored and never woken (queueing the push failed: Redis was down when it committed, or
    the push failed). Returns the pushes that went out."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.resend_after_seconds())
    due = (
        Command.objects.filter(
            state=CommandState.QUEUED,
            woken_at__isnull=True,
            created_at__lte=cutoff,
            expires_at__gt=now,
            device__kind=DeviceKind.PHONE,
            device__revoked_at__isnull=True,
            device__push_token__gt="",
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[: limit or conf.expire_batch()]
    )
    return sum(any(result.ok for result in command_wake_phone(command_id=pk)) for pk in list(due))


def command_notice_text(command: Command) -> tuple[str, str]:
    """Title and body telling the officer who started/stopped their camera, when and why."""
    who = command.requested_by.full_name or command.requested_by.get_username()
    verb = ACTION_WORDS.get(command.action, command.action)
    at = timezone.localtime(command.finished_at or command.created_at).strftime("%H:%M:%S %Z")
    camera = command.device.label or command.device.serial
    title = f"Recording {verb} remotely on {camera}"
    body = f"{who} {verb} recording on {camera} at {at}. Reason: {command.reason}"
    return title, body


def _officer_phones(officer_id):
    return Device.objects.filter(
        officer_id=officer_id, kind=DeviceKind.PHONE, revoked_at__isnull=True, push_token__isnull=False
    ).exclude(push_token="")


def _notices_create(command: Command) -> int:
    phones = list(_officer_phones(command.device.officer_id).values_list("id", flat=True))
    CommandNotice.objects.bulk_create(
        [CommandNotice(command=command, phone_id=phone) for phone in phones], ignore_conflicts=True
    )
    return len(phones)


def _notices_claim(command_id) -> list[CommandNotice]:
    """The due notices of this command, each taken for one lease: whoever updates the row sends it."""
    now = timezone.now()
    lease = now + timedelta(seconds=conf.notice_lease_seconds())
    claimed = []
    for notice_id in CommandNotice.objects.filter(
        command_id=command_id, state=NoticeState.QUEUED, next_attempt_at__lte=now
    ).values_list("id", flat=True):
        if CommandNotice.objects.filter(pk=notice_id, state=NoticeState.QUEUED, next_attempt_at__lte=now).update(
            attempts=F("attempts") + 1, next_attempt_at=lease
        ):
            claimed.append(notice_id)
    return list(CommandNotice.objects.filter(pk__in=claimed).select_related("phone"))


def _notice_record(notice: CommandNotice, result) -> None:
    now = timezone.now()
    queued = CommandNotice.objects.filter(pk=notice.pk, state=NoticeState.QUEUED)
    if result is not None and result.ok:
        queued.update(state=NoticeState.SENT, sent_at=now, error="")
    elif (result is not None and not result.retry) or notice.attempts >= conf.notice_max_attempts():
        queued.update(state=NoticeState.FAILED, error=((result and result.error_code) or "error")[:200])
    else:  # FCM or the network down: again later, backing off
        delay = max(float((result and result.retry_after) or 0), min(2 ** min(notice.attempts, 6), 60))
        error = (result and result.error_code) or "UNAVAILABLE"
        queued.update(next_attempt_at=now + timedelta(seconds=delay), error=error[:200])


def _notice_record_surely(notice: CommandNotice, result) -> None:
    """_notice_record, tried again for about 10 s while the database is unreachable: the push has
    gone out, and a notice left queued would go out again once its lease is over (a database
    restart between FCM's answer and this write sent an officer the same notice twice)."""
    db_retried(functools.partial(_notice_record, notice, result))


def command_notify_officer(*, command_id) -> list:
    """After a remote start/stop succeeded: tell the officer wearing the camera, on their phones.

    Idempotent: only notices still queued and not taken by another sender go out, and each is
    recorded as sent right after FCM accepted it (a redelivered task sends nothing again)."""
    command = Command.objects.select_related("device", "requested_by").filter(pk=command_id).first()
    if command is None or command.state != CommandState.SUCCEEDED:
        return []
    notices = _notices_claim(command.pk)
    ready = [n for n in notices if n.phone.push_token and n.phone.revoked_at is None]
    for notice in notices:
        if notice not in ready:  # the phone was revoked or lost its token since
            CommandNotice.objects.filter(pk=notice.pk, state=NoticeState.QUEUED).update(
                state=NoticeState.FAILED, error="no_token"
            )
    if not ready:
        return []
    title, body = command_notice_text(command)
    data = {
        "type": "command.notice",
        "command_id": str(command.id),
        "device_id": str(command.device_id),
        "action": command.action,
        "requested_by": str(command.requested_by_id),
        "requested_by_name": command.requested_by.full_name or command.requested_by.get_username(),
        "reason": command.reason,
        "at": (command.finished_at or command.created_at).isoformat(),
    }
    messages = [
        PushMessage(token=n.phone.push_token or "", data=data, title=title, body=body, priority="high") for n in ready
    ]
    results: list[PushResult | None]
    try:
        results = list(push.send_batch(messages))
    except Exception:  # FCM unreachable: every notice is tried again by the sweep
        log.exception("officer notice for command %s not sent", command.pk)
        results = [None] * len(ready)
    for notice, result in zip(ready, results, strict=True):
        if result is not None and not result.ok:
            log.warning("officer notice to a phone failed: %s %s", result.error_code, result.detail)
        _notice_record_surely(notice, result)
    return [r for r in results if r is not None]


def command_notices_due(*, limit: int | None = None) -> list[str]:
    """Commands with a notice whose retry time or lease has passed (FCM, the broker or a worker down)."""
    cutoff = timezone.now() - timedelta(seconds=2)  # fresh ones are being sent by their own task
    limit = limit or conf.expire_batch()
    ids = (
        CommandNotice.objects.filter(state=NoticeState.QUEUED, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("command_id", flat=True)[:limit]
    )
    return [str(pk) for pk in dict.fromkeys(ids)]


def command_notices_sweep() -> int:
    from .tasks import command_notify_officer

    due = command_notices_due()
    for command_id in due:
        _enqueue(command_notify_officer, command_id)
    return len(due)
