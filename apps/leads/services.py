"""Every write on leads: create, review (two-person rule), share as a briefing. Each is atomic,
audited and counted (the transparency report) in the same transaction."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import AuditContext, audit_record, audit_record_many
from apps.briefings.models import Briefing, Incident, Media
from apps.briefings.services import briefing_create, media_hold
from apps.core.errors import Conflict, Forbidden, InvalidInput
from apps.core.realtime import console_send_after_commit, iso_time
from apps.counters import names as counted
from apps.counters.services import counter_add

from . import conf
from .models import Kind, Lead, LeadBriefing, State
from .selectors import badge_of, events_out


def _media_ids(candidates: list[dict], probe_media: Media | None) -> None:
    wanted = {str(c["photo"]) for c in candidates if c.get("photo")}
    found = {str(pk) for pk in Media.objects.filter(pk__in=wanted).values_list("pk", flat=True)}
    missing = {
        f"candidates.{i}.photo": [f"Unknown media id: {c['photo']}."]
        for i, c in enumerate(candidates)
        if c.get("photo") and str(c["photo"]) not in found
    }
    if missing:
        raise InvalidInput("A candidate's photo is not an uploaded media id.", fields=missing)
    if probe_media is not None and not Media.objects.filter(pk=probe_media.pk).exists():
        # deleted as never used between the request's check and this transaction
        raise InvalidInput(
            "Unknown probe_media.", fields={"probe_media": [f"No probe_media with id {probe_media.pk}."]}
        )


def lead_create(
    *,
    actor: User,
    kind: str,
    case_number: str,
    summary: str,
    incident: Incident | None = None,
    probe_media: Media | None = None,
    search_system: str = "",
    search_system_version: str = "",
    candidates: list[dict] | None = None,
    nibin_lead_number: str = "",
    events: list[dict] | None = None,
    context: AuditContext | None = None,
) -> Lead:
    candidates = list(candidates or [])
    _media_ids(candidates, probe_media)
    now = timezone.now()
    with transaction.atomic():
        # Its photos are in use from now on (the purge of unused media leaves them); one deleted
        # since the check above is a 400, as if it had never been uploaded.
        media_hold(ids=[c["photo"] for c in candidates if c.get("photo")] + ([probe_media.pk] if probe_media else []))
        _media_ids(candidates, probe_media)
        lead = Lead.objects.create(
            kind=kind,
            case_number=case_number,
            summary=summary,
            incident=incident,
            probe_media=probe_media,
            search_system=search_system,
            search_system_version=search_system_version,
            candidates=candidates,
            nibin_lead_number=nibin_lead_number,
            events=list(events or []),
            created_by=actor,
            created_by_badge=badge_of(actor),
            created_at=now,
        )
        counter_add(name=counted.lead(kind, "created"), at=now)
        audit_record(
            action="lead.create",
            actor=actor,
            obj=lead,
            context=context,
            details={
                "kind": kind,
                "case_number": case_number,
                "candidates": len(candidates),
                "events": len(lead.events),
                "search_system": search_system,
                "nibin_lead_number": nibin_lead_number,
            },
        )
        _announce(lead, at=now)
    return lead


def _announce(lead: Lead, *, at) -> None:
    """After commit, to the operators' consoles: that the lead changed (created, reviewed, shared),
    not what it holds: a page that shows it reads it again, and that read is audited as any."""
    console_send_after_commit("lead.update", {"id": str(lead.pk), "state": lead.state, "at": iso_time(at)})


def refuse_own_review(*, lead: Lead, actor) -> None:
    """The two-person rule: the person who created a lead never reviews it (403, whatever else
    the request holds). A person is known by their account, and by their badge number: a second
    account with the creator's badge is the same person (it verified the lead they created), the
    badge the creator had when the lead was made as much as the one they have now."""
    if lead.created_by_id == actor.pk:
        raise Forbidden("You created this lead; another operator must review it (two-person rule).", code="own_lead")
    badge = badge_of(actor).casefold()
    creators = {lead.created_by_badge.strip().casefold()}
    if lead.created_by is not None:
        creators.add(badge_of(lead.created_by).casefold())
    if badge and badge in creators:
        raise Forbidden(
            "This lead was created under your badge number; an operator with another badge must review it"
            " (two-person rule).",
            code="own_lead",
        )


def lead_review(*, actor: User, lead: Lead, decision: str, note: str, context: AuditContext | None = None) -> Lead:
    """The second person's decision: verified or rejected, with a note. Never the creator's."""
    if decision not in (State.VERIFIED, State.REJECTED):
        raise InvalidInput("decision must be verified or rejected.", fields={"decision": ["Not a decision."]})
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        refuse_own_review(lead=lead, actor=actor)
        if lead.state != State.PENDING_REVIEW:
            raise Conflict(f"This lead is already {lead.state}; it can be reviewed once.", code="already_reviewed")
        now = timezone.now()
        lead.state, lead.reviewed_by, lead.reviewed_at, lead.review_note = decision, actor, now, note
        lead.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_note"])
        counter_add(name=counted.lead(lead.kind, decision), at=now)
        audit_record(
            action=f"lead.{decision}",
            actor=actor,
            obj=lead,
            context=context,
            details={"decision": decision, "note": note, "kind": lead.kind, "case_number": lead.case_number},
        )
        _announce(lead, at=now)
    return lead


def _suspects_of(lead: Lead) -> list[dict]:
    if lead.kind != Kind.FACIAL_RECOGNITION or not lead.candidates:
        return []
    top = min(lead.candidates, key=lambda c: c.get("rank", 1_000_000))
    suspect: dict = {"description": f"Facial recognition candidate (rank {top.get('rank')}), not an identification"}
    if top.get("name"):
        suspect["name"] = top["name"]
    if top.get("photo"):
        suspect["photo"] = str(top["photo"])
    return [suspect]


def _body_of(lead: Lead, body: str) -> str:
    lines = [body.strip() or lead.summary.strip()]
    if lead.kind == Kind.NIBIN:
        lines.append(f"NIBIN lead {lead.nibin_lead_number}: {len(lead.events)} linked events")
        for event in events_out(lead.events):
            lines.append(f"- {event['case_number']} at {event['occurred_at']}")
    return "\n".join(line for line in lines if line)


def lead_share(
    *,
    actor: User,
    lead: Lead,
    priority: str,
    audience: dict,
    title: str = "",
    body: str = "",
    base_url: str = "",
    context: AuditContext | None = None,
) -> Briefing:
    """A verified lead as a briefing to officers; a facial recognition one always carries the notice."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.state != State.VERIFIED:
            raise Conflict(f"Only a verified lead can be shared; this one is {lead.state}.", code="lead_not_verified")
        if audience.get("incident") and lead.incident_id is None:  # the briefing's own error named `incident`
            raise InvalidInput(
                "This lead is linked to no incident: name the officers, or a place, as the audience.",
                fields={"audience.incident": ["The lead has no incident."]},
            )
        briefing = briefing_create(
            actor=actor,
            priority=priority,
            title=title or f"Lead {lead.case_number}: {lead.get_kind_display()}",
            audience=audience,
            body=_body_of(lead, body),
            notice=conf.NOTICE if lead.kind == Kind.FACIAL_RECOGNITION else "",
            suspects=_suspects_of(lead),
            incident=lead.incident if audience.get("incident") else None,
            base_url=base_url,
            context=context,
        )
        LeadBriefing.objects.create(lead=lead, briefing=briefing, shared_by=actor)
        audit_record(
            action="lead.share",
            actor=actor,
            obj=lead,
            context=context,
            details={"briefing": str(briefing.pk), "priority": priority, "recipients": briefing.recipients},
        )
        _announce(lead, at=briefing.created_at)
    return briefing


def leads_viewed(*, actor: User, leads, context: AuditContext | None = None) -> None:
    """A person read these leads (candidates' names, records, the probe's place): each read is in
    the trail, as every other access to what an investigation holds. One event per lead read."""
    audit_record_many(
        [
            {
                "action": "lead.view",
                "actor": actor,
                "obj": lead,
                "context": context,
                "details": {"case_number": lead.case_number},
            }
            for lead in leads
        ]
    )


def lead_related_record(
    *, actor: User, lead: Lead, params: dict, found: tuple[int, int], context: AuditContext | None = None
) -> None:
    """A look at the evidence near a lead's events is a search of plate reads: audited, counted."""
    with transaction.atomic():
        counter_add(name=counted.PLATE_SEARCH)
        audit_record(
            action="lead.related",
            actor=actor,
            obj=lead,
            context=context,
            details={
                "case_number": lead.case_number,
                "reason": f"related evidence of lead {lead.pk}",
                **params,
                "clips": found[0],
                "plate_reads": found[1],
            },
        )
