"""Writes on assists, counted by occurred_at (the statistics) in the same transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import AuditContext, audit_record
from apps.briefings.models import Briefing, Incident
from apps.core.errors import Conflict
from apps.counters import names as counted
from apps.counters.services import counters_add
from apps.leads.models import Lead

from .models import Assist, DismissedSuggestion

WRITABLE = ("outcomes", "tools", "case_number", "incident", "officer", "notes", "occurred_at")


def _counts(assist: Assist, sign: int) -> dict[str, int]:
    counts = {counted.ASSIST: sign}
    for code in set(assist.outcomes):
        counts[counted.assist_outcome(code)] = sign
    for tool in set(assist.tools):
        counts[f"assist.tool.{tool}"] = sign
    return counts


def _details(assist: Assist) -> dict:
    return {
        "outcomes": assist.outcomes,
        "tools": assist.tools,
        "case_number": assist.case_number,
        "incident": str(assist.incident_id) if assist.incident_id else None,
        "officer": str(assist.officer_id) if assist.officer_id else None,
        "occurred_at": assist.occurred_at.isoformat(),
        "briefing": str(assist.briefing_id) if assist.briefing_id else None,
        "lead": str(assist.lead_id) if assist.lead_id else None,
        "hit": str(assist.hit) if assist.hit else None,
    }


def assist_create(
    *,
    actor: User,
    outcomes: list[str],
    tools: list[str] | None = None,
    case_number: str = "",
    incident: Incident | None = None,
    officer: User | None = None,
    notes: str = "",
    occurred_at: datetime | None = None,
    briefing: Briefing | None = None,
    lead: Lead | None = None,
    hit=None,
    context: AuditContext | None = None,
) -> Assist:
    now = timezone.now()
    with transaction.atomic():
        if briefing is not None:  # one assist per briefing: two at once wait here for each other
            list(Briefing.objects.select_for_update().filter(pk=briefing.pk).values_list("pk"))
        if briefing is not None and Assist.objects.filter(briefing=briefing).exists():
            raise Conflict("An assist is already logged for this briefing.", code="assist_exists")
        assist = Assist.objects.create(
            outcomes=list(dict.fromkeys(outcomes)),
            tools=list(dict.fromkeys(tools or [])),
            case_number=case_number,
            incident=incident,
            officer=officer,
            notes=notes,
            occurred_at=occurred_at or now,
            briefing=briefing,
            lead=lead,
            hit=hit,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        counters_add(counts=_counts(assist, +1), at=assist.occurred_at)
        audit_record(action="assist.create", actor=actor, obj=assist, context=context, details=_details(assist))
    return assist


def assist_update(*, actor: User, assist: Assist, context: AuditContext | None = None, **fields) -> Assist:
    """Changes what was given; the counts move with the assist (out of the old, into the new)."""
    with transaction.atomic():
        assist = Assist.objects.select_for_update().get(pk=assist.pk)
        counters_add(counts=_counts(assist, -1), at=assist.occurred_at)
        for name, value in fields.items():
            if name not in WRITABLE:
                raise ValueError(name)
            if name in ("outcomes", "tools"):
                value = list(dict.fromkeys(value))
            setattr(assist, name, value)
        assist.updated_at = timezone.now()
        assist.save()
        counters_add(counts=_counts(assist, +1), at=assist.occurred_at)
        audit_record(
            action="assist.update",
            actor=actor,
            obj=assist,
            context=context,
            details={**_details(assist), "changed": sorted(fields)},
        )
    return assist


def suggestion_dismiss(*, actor: User, briefing: Briefing, context: AuditContext | None = None) -> None:
    with transaction.atomic():
        _, created = DismissedSuggestion.objects.get_or_create(briefing=briefing, defaults={"dismissed_by": actor})
        if created:
            audit_record(action="assist.suggestion_dismiss", actor=actor, obj=briefing, context=context)
