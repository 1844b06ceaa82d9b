"""The one way to write to the audit trail."""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Required, TypedDict, Unpack

from django.db import connection, transaction
from django.utils import timezone

from apps.core.rows import Columns

from . import conf, sealer
from .context import AuditContext, client_ip
from .models import AuditEvent, AuditHead

__all__ = ["AuditContext", "audit_record", "audit_seal_pending", "client_ip"]

GENESIS = "0" * 64
_contended_until = 0.0  # time.monotonic() until which this process appends without asking for the head


def _actor_fields(actor: Any) -> tuple[str, str, str]:
    if actor is None:
        return "system", "", "system"
    kind = getattr(actor, "audit_actor_type", None)
    if kind:  # devices and other principals describe themselves
        return kind, str(actor.pk), str(getattr(actor, "audit_label", actor))
    if getattr(actor, "is_authenticated", False):
        return "user", str(actor.pk), actor.get_username()
    return "anonymous", "", "anonymous"


class EventFields(TypedDict, total=False):
    """audit_record's and audit_event's arguments (audit_event names their defaults)."""

    action: Required[str]
    actor: Any
    obj: Any
    object_type: str
    object_id: Any
    outcome: str
    context: AuditContext | None
    source_ip: str | None
    details: dict | None


def audit_event(
    *,
    action: str,
    actor: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    outcome: str = "success",
    context: AuditContext | None = None,
    source_ip: str | None = None,
    details: dict | None = None,
) -> tuple[AuditEvent, str]:
    """The event audit_record would append, not stored and not chained yet, with its details as
    the JSON text to store. For a caller that stores it in a statement of its own (event_insert_select),
    then calls audit_stored_unchained() once that committed."""
    if context is not None:
        actor = actor if actor is not None else context.actor
        source_ip = source_ip or context.source_ip
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
    actor_type, actor_id, actor_label = _actor_fields(actor)
    details_json = json.dumps(details or {}, default=str)
    event = AuditEvent(
        at=timezone.now(),
        actor_type=actor_type,
        actor_id=actor_id[:64],
        actor_label=actor_label[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        outcome=outcome,
        source_ip=source_ip or None,  # stored as NULL when empty: hashed as stored
        # stored exactly as it will read back, so the hash survives the round trip
        details=json.loads(details_json),
        prev_hash="",
        hash="",
    )
    return event, details_json


def audit_record(**fields: Unpack[EventFields]) -> AuditEvent:
    """Appends one event to the chain, inside the caller's transaction when there is one.

    `obj` may be any model instance (type = its model name). `context` says who acts (unless
    `actor` is given) and from where (`AuditContext.of(request)` in a view).
    """
    return audit_record_many([fields])[0]


def audit_record_many(events: list[EventFields]) -> list[AuditEvent]:
    """Appends several events, in this order, as one append: the chain head taken once and moved
    once, the rows stored in one statement (a page of 500 leads read is 500 events: one by one,
    1,000 statements holding the head the whole time)."""
    global _contended_until
    built = [audit_event(**fields) for fields in events]
    if not built:
        return []
    with transaction.atomic(savepoint=False):  # part of the caller's transaction, no savepoint of its own
        # Right after this process found the head taken, it does not ask again: it appends as one
        # INSERT, like a table without a chain, and leaves the chaining to the sealer.
        head = _head_if_free() if time.monotonic() >= _contended_until else None
        if head is not None:  # nobody else is appending: chained right here
            seq, prev = head
            for event, _ in built:
                seq += 1
                event.seq, event.prev_hash = seq, prev
                event.hash = prev = event.compute_hash()
            _insert_many(built, move_head=True)
        else:
            # Another transaction holds the chain head: stored now, in the caller's transaction, and
            # chained within the seal interval after the commit, with whatever else waits by then.
            _contended_until = time.monotonic() + conf.seal_interval()
            _insert_many(built, move_head=False)
            transaction.on_commit(_nudge_sealer)
    return [event for event, _ in built]


def audit_stored_unchained() -> None:
    """After a commit that stored events with event_insert_select (unchained): have them chained within
    the seal interval, like any append that found the chain head taken."""
    _nudge_sealer()


def _nudge_sealer() -> None:
    sealer.nudge(audit_seal_pending)


# One round trip: the head, locked, if no other transaction holds it and no event waits for it
# (a later event must not pass one that waits: a process's events keep their order in the
# chain), and whether the head exists at all.
_HEAD_IF_FREE = (
    "SELECT h.seq, h.hash, EXISTS (SELECT 1 FROM audit_audithead WHERE id = 1) FROM (SELECT 1) AS one"
    " LEFT JOIN LATERAL (SELECT seq, hash FROM audit_audithead WHERE id = 1"
    " AND NOT EXISTS (SELECT 1 FROM audit_auditevent WHERE seq IS NULL) FOR UPDATE SKIP LOCKED) AS h ON true"
)


def _head_if_free() -> tuple[int, str] | None:
    """(seq, hash) of the chain head, locked for this transaction, or None when another
    transaction holds it or events wait for it (on PostgreSQL; SQLite has one writer at a time,
    so the head is free there)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_HEAD_IF_FREE)
            seq, hash_, exists = cursor.fetchone()
        if seq is not None:
            return seq, hash_
        if exists:
            return None
    head, created = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
    return (head.seq, head.hash) if created or connection.vendor != "postgresql" else None


# The event row as one fixed statement (no ORM compiler per append): the audit trail is the
# hottest INSERT in the system.
_FIELDS = [str(f.column) for f in AuditEvent._meta.concrete_fields if not f.primary_key]
_INSERT = (
    f"INSERT INTO {AuditEvent._meta.db_table} ({', '.join(_FIELDS)})"  # noqa: S608 (fixed column names)
    f" VALUES ({', '.join(['%s'] * len(_FIELDS))}) RETURNING id"
)
_MOVE_HEAD = "WITH moved AS (UPDATE audit_audithead SET seq = %s, hash = %s WHERE id = 1) "


def _insert(event: AuditEvent, details_json: str, *, move_head: bool) -> None:
    """Stores the event (and, when it is chained here, moves the head to it): one statement on
    PostgreSQL."""
    if connection.vendor != "postgresql":
        event.save()
        if move_head:
            AuditHead.objects.filter(id=1).update(seq=event.seq, hash=event.hash)
        return
    params = event_params(event, details_json)
    with connection.cursor() as cursor:
        if move_head:
            cursor.execute(_MOVE_HEAD + _INSERT, [event.seq, event.hash, *params])
        else:
            cursor.execute(_INSERT, params)
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, connection.alias


def _insert_many(built: list[tuple[AuditEvent, str]], *, move_head: bool) -> None:
    """Stores the events in order (and moves the head to the last): one statement on PostgreSQL."""
    if len(built) == 1:
        _insert(*built[0], move_head=move_head)
        return
    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_create([event for event, _ in built])
        if move_head:
            AuditHead.objects.filter(id=1).update(seq=built[-1][0].seq, hash=built[-1][0].hash)
        return
    row = f"({', '.join(['%s'] * len(_FIELDS))})"
    sql = _INSERT.replace(f" VALUES {row} RETURNING id", f" VALUES {', '.join([row] * len(built))} RETURNING id")
    params = [value for event, details_json in built for value in event_params(event, details_json)]
    last = built[-1][0]
    with connection.cursor() as cursor:
        if move_head:
            cursor.execute(_MOVE_HEAD + sql, [last.seq, last.hash, *params])
        else:
            cursor.execute(sql, params)
        ids = [found[0] for found in cursor.fetchall()]
    for (event, _), pk in zip(built, ids, strict=True):  # RETURNING gives the rows in VALUES order
        event.pk = pk
        event._state.adding, event._state.db = False, connection.alias


def event_params(event: AuditEvent, details_json: str) -> list:
    """The event's values in column order, as _INSERT takes them."""
    values = {
        "seq": event.seq,
        "at": event.at,
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "source_ip": event.source_ip,
        "details": details_json,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
    return [values[column] for column in _FIELDS]


def event_insert_select(
    event: AuditEvent, details_json: str, *, source: str, details_sql: str = "%s"
) -> tuple[str, list]:
    """(SQL, params): an INSERT of this event (stored unchained) once per row of `source`, the FROM
    clause of the caller's larger statement (a CTE that moved a row, with its condition).
    `details_sql` writes the details column, with one %s for `details_json`, so the statement can
    merge in what only it knows (a column of the moved row)."""
    values = [details_sql if column == "details" else "%s" for column in _FIELDS]
    sql = f"INSERT INTO {AuditEvent._meta.db_table} ({', '.join(_FIELDS)}) SELECT {', '.join(values)} FROM {source}"  # noqa: S608
    return sql, event_params(event, details_json)


def audit_seal_pending(*, batch: int = 500) -> int:
    """Chains every committed event still waiting for the chain head, oldest first: one short
    transaction per batch, one head update each. Returns how many were chained.

    The sealer thread (apps.audit.sealer) calls it after appends that found the head taken;
    readers that check the chain (verify_audit, custody) call it first, so an event left waiting
    by a crash is chained then."""
    sealed = 0
    while True:
        with transaction.atomic():
            seq, prev = _head_locked()
            waiting = _waiting_locked(batch)
            if not waiting:
                return sealed
            rows = []
            for event in waiting:
                seq += 1
                event.seq, event.prev_hash = seq, prev
                prev = event.hash = event.compute_hash()
                rows.append((seq, event.prev_hash, event.hash, event.pk))
            # The one change an audit row ever sees: its place in the chain, given once. One
            # statement for the whole batch (and the head) on PostgreSQL.
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute(_SEAL, [seq, prev, *map(list, zip(*rows, strict=True))])
                else:
                    cursor.executemany(_SEAL_ONE, rows)
                    cursor.execute("UPDATE audit_audithead SET seq = %s, hash = %s WHERE id = 1", [seq, prev])
            sealed += len(waiting)
        if len(waiting) < batch:
            return sealed


def _head_locked() -> tuple[int, str]:
    """(seq, hash) of the chain head, locked for this transaction (made at the first event)."""
    if connection.vendor == "postgresql":  # the sealer runs this for every batch: no ORM compile
        with connection.cursor() as cursor:
            cursor.execute("SELECT seq, hash FROM audit_audithead WHERE id = 1 FOR UPDATE")
            row = cursor.fetchone()
        if row is not None:
            return row[0], row[1]
    head, _ = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
    return head.seq, head.hash


@functools.cache
def _waiting_sql() -> tuple[str, Columns]:
    columns = Columns(AuditEvent, "e")
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    sql = f"SELECT {', '.join(columns.sql)} FROM {table} e WHERE e.seq IS NULL ORDER BY e.id LIMIT %s FOR UPDATE"  # noqa: S608
    return sql, columns


def _waiting_locked(batch: int) -> list[AuditEvent]:
    """The oldest `batch` events waiting for their place in the chain, locked."""
    if connection.vendor != "postgresql":
        return list(AuditEvent.objects.select_for_update().filter(seq__isnull=True).order_by("id")[:batch])
    sql, columns = _waiting_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [batch])
        return [columns.instance(row) for row in cursor.fetchall()]


_SEAL = (
    _MOVE_HEAD + f"UPDATE {AuditEvent._meta.db_table} AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash"  # noqa: S608
    " FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::bigint[]) AS v(seq, prev_hash, hash, id)"
    " WHERE e.id = v.id AND e.seq IS NULL"
)
_SEAL_ONE = (
    f"UPDATE {AuditEvent._meta.db_table} SET seq = %s, prev_hash = %s, hash = %s"  # noqa: S608
    " WHERE id = %s AND seq IS NULL"
)
