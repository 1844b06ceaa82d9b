"""The one way to write to the audit trail."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from .context import AuditContext, client_ip
from .models import AuditEvent, AuditHead

__all__ = ["AuditContext", "audit_record", "client_ip"]

GENESIS = "0" * 64


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
    actor_type, actor_id, actor_label = _actor_fields(actor)
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
        event = AuditEvent(
            seq=head.seq + 1,
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
            prev_hash=head.hash,
        )
        event.hash = event.compute_hash()
        event.save()
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event
