"""The one way to write to the audit trail."""

from __future__ import annotations

import json
import time
from typing import Any

from django.db import connection, models, transaction
from django.db.models.sql import InsertQuery
from django.utils import timezone

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


def audit_record(
    *,
    action: str,
    actor: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    outcome: str = "success",
    context: AuditContext | None = None,
    request: Any = None,
    source_ip: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Appends one event to the chain, inside the caller's transaction when there is one.

    `obj` may be any model instance (type = its model name). `context` says who acts (unless
    `actor` is given) and from where; `request` (an HttpRequest, a DRF request or an ASGI scope)
    is the older way to give the address, for callers not yet passing a context.
    """
    if context is not None:
        actor = actor if actor is not None else context.actor
        source_ip = source_ip or context.source_ip
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
    global _contended_until
    actor_type, actor_id, actor_label = _actor_fields(actor)
    event = AuditEvent(
        at=timezone.now(),
        actor_type=actor_type,
        actor_id=actor_id[:64],
        actor_label=actor_label[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        outcome=outcome,
        source_ip=source_ip or client_ip(request),
        # stored exactly as it will read back, so the hash survives the round trip
        details=json.loads(json.dumps(details or {}, default=str)),
        prev_hash="",
        hash="",
    )
    with transaction.atomic(savepoint=False):  # part of the caller's transaction, no savepoint of its own
        # Right after this process found the head taken, it does not ask again: it appends as one
        # INSERT, like a table without a chain, and leaves the chaining to the sealer.
        head = _head_if_free() if time.monotonic() >= _contended_until else None
        if head is not None:  # nobody else is appending: chained right here, as one link
            event.seq, event.prev_hash = head.seq + 1, head.hash
            event.hash = event.compute_hash()
            head.seq, head.hash = event.seq, event.hash
            _insert_moving_head(event, head)
            return event
        # Another transaction holds the chain head: stored now, in the caller's transaction, and
        # chained within the seal interval after the commit, with whatever else waits by then.
        _contended_until = time.monotonic() + conf.seal_interval()
        event.save()
        transaction.on_commit(lambda: sealer.nudge(audit_seal_pending))
    return event


# One round trip: the head, locked, if no other transaction holds it and no event waits for it
# (a later event must not pass one that waits: a process's events keep their order in the
# chain), and whether the head exists at all.
_HEAD_IF_FREE = (
    "SELECT h.seq, h.hash, EXISTS (SELECT 1 FROM audit_audithead WHERE id = 1) FROM (SELECT 1) AS one"
    " LEFT JOIN LATERAL (SELECT seq, hash FROM audit_audithead WHERE id = 1"
    " AND NOT EXISTS (SELECT 1 FROM audit_auditevent WHERE seq IS NULL) FOR UPDATE SKIP LOCKED) AS h ON true"
)


def _head_if_free() -> AuditHead | None:
    """The chain head, locked for this transaction, or None when another transaction holds it or
    events wait for it (on PostgreSQL; SQLite has one writer at a time, so the head is free there)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_HEAD_IF_FREE)
            seq, hash_, exists = cursor.fetchone()
        if seq is not None:
            head = AuditHead(id=1, seq=seq, hash=hash_)
            head._state.adding = False
            return head
        if exists:
            return None
    head, created = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
    return head if created or connection.vendor != "postgresql" else None


def _insert_moving_head(event: AuditEvent, head: AuditHead) -> None:
    """Stores the event and moves the head to it: one statement on PostgreSQL."""
    if connection.vendor != "postgresql":
        event.save()
        head.save(update_fields=["seq", "hash"])
        return
    query = InsertQuery(AuditEvent)
    query.insert_values([f for f in AuditEvent._meta.concrete_fields if not f.primary_key], [event])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [AuditEvent._meta.pk]
    [(sql, params)] = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH moved AS (UPDATE audit_audithead SET seq = %s, hash = %s WHERE id = 1) " + sql,  # noqa: S608 (Django's own INSERT)
            [head.seq, head.hash, *params],
        )
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, connection.alias


def audit_seal_pending(*, batch: int = 500) -> int:
    """Chains every committed event still waiting for the chain head, oldest first: one short
    transaction per batch, one head update each. Returns how many were chained.

    The sealer thread (apps.audit.sealer) calls it after appends that found the head taken;
    readers that check the chain (verify_audit, custody) call it first, so an event left waiting
    by a crash is chained then."""
    sealed = 0
    while True:
        with transaction.atomic():
            head, _ = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
            waiting = list(AuditEvent.objects.select_for_update().filter(seq__isnull=True).order_by("id")[:batch])
            if not waiting:
                return sealed
            for event in waiting:
                event.seq, event.prev_hash = head.seq + 1, head.hash
                event.hash = event.compute_hash()
                head.seq, head.hash = event.seq, event.hash
            # The one change an audit row ever sees: its place in the chain, given once.
            models.QuerySet(model=AuditEvent).bulk_update(waiting, ["seq", "prev_hash", "hash"])
            head.save(update_fields=["seq", "hash"])
            sealed += len(waiting)
        if len(waiting) < batch:
            return sealed
