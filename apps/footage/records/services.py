"""Every write of footage records: categories, clip metadata, legal hold, access links,
retention (Object Lock, purge to a tombstone) and case manifests for prosecutors."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import AuditContext, EventFields, audit_record, audit_record_many
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.realtime import iso_time
from apps.counters import names as counted
from apps.counters.services import counter_add
from apps.integrations.storage import StorageError, get_storage, signed_get_path

from .. import conf
from ..grants import grant_for
from ..ingest.services import retain_until_for
from ..models import Category, Clip, ClipState
from ..transitions import clip_announce
from .selectors import clip_filename, object_lock_candidates, purge_candidates

log = logging.getLogger(__name__)


class ClipHeldError(Conflict):
    code = "clip_on_legal_hold"


# Categories ------------------------------------------------------------------------------------


def category_create(
    *, actor, slug: str, name: str = "", retention_days: int | None = None, context: AuditContext | None = None
) -> Category:
    """A new category; its slug is unique (409 when taken)."""
    if Category.objects.filter(slug=slug).exists():
        raise Conflict(f"A category {slug!r} exists already.", code="category_exists")
    try:
        with transaction.atomic():
            category = Category.objects.create(
                slug=slug, name=name or slug.replace("-", " ").replace("_", " ").title(), retention_days=retention_days
            )
            audit_record(
                action="category.create",
                actor=actor,
                obj=category,
                context=context,
                details={"slug": slug, "name": category.name, "retention_days": retention_days},
            )
    except IntegrityError:
        raise Conflict(f"A category {slug!r} exists already.", code="category_exists") from None
    return category


# Clip metadata and legal hold ------------------------------------------------------------------


def _incident_exists(incident_id) -> bool:
    """apps.briefings' incidents, looked up by name so that footage does not import briefings."""
    from django.apps import apps

    try:
        incident = apps.get_model("briefings", "Incident")
    except LookupError:
        return True
    return incident.objects.filter(pk=incident_id).exists()


def _locked(clip: Clip) -> Clip:
    """The clip's row locked, its category read after the lock: locked together in one join,
    PostgreSQL found no row when another change had given the clip another category while this
    one waited (its re-check joins the new row to the old category), and the change was a 500."""
    locked = Clip.objects.select_for_update().get(pk=clip.pk)
    locked.category = Category.objects.get(pk=locked.category_id)
    return locked


def clip_update(*, clip: Clip, actor, changes: dict, context: AuditContext | None = None) -> Clip:
    """Sets category, case number and/or incident; retain_until follows the category and recording
    time (null: kept indefinitely). Audited with the values before and after."""
    category = None
    if "category" in changes:
        category = Category.objects.filter(slug=changes["category"]).first()
        if category is None:
            raise InvalidInput(
                f"No category {changes['category']!r}; see GET /api/v1/categories.",
                fields={"category": [f"No category {changes['category']!r}; see GET /api/v1/categories."]},
            )
    if changes.get("incident") is not None and not _incident_exists(changes["incident"]):
        raise InvalidInput("No such incident.", fields={"incident": ["No such incident."]})
    lock_changed = False
    with transaction.atomic():
        clip = _locked(clip)
        if clip.state == ClipState.PURGED and category is not None and category.pk != clip.category_id:
            raise Conflict("The clip's bytes are purged; its category no longer decides anything.", code="clip_purged")
        before = {
            "category": clip.category.slug,
            "case_number": clip.case_number,
            "incident": str(clip.incident_id) if clip.incident_id else None,
            "retain_until": iso_time(clip.retain_until),
        }
        if category is not None:
            clip.category = category
            clip.retain_until = retain_until_for(category=category, started_at=clip.started_at)
        if "case_number" in changes:
            clip.case_number = changes["case_number"] or ""
        if "incident" in changes:
            clip.incident_id = changes["incident"]
        after = {
            "category": clip.category.slug,
            "case_number": clip.case_number,
            "incident": str(clip.incident_id) if clip.incident_id else None,
            "retain_until": iso_time(clip.retain_until),
        }
        if before == after:
            return clip
        clip.save(update_fields=["category", "retain_until", "case_number", "incident_id", "updated_at"])
        changed = sorted(k for k in after if before[k] != after[k])
        audit_record(
            action="clip.update",
            actor=actor,
            obj=clip,
            context=context,
            details={
                "changed": changed,
                "before": {k: before[k] for k in changed},
                "after": {k: after[k] for k in changed},
            },
        )
        clip_announce(clip)
        lock_changed = "retain_until" in changed
    if lock_changed:
        _queue_object_lock(clip.pk)
    return clip


def clip_set_hold(*, clip: Clip, actor, on: bool, reason: str, context: AuditContext | None = None) -> Clip:
    """Places (on=True) or lifts a legal hold. A held clip is never deleted by anything."""
    with transaction.atomic():
        clip = _locked(clip)
        if on and clip.state == ClipState.PURGED:
            raise Conflict(
                "The clip's bytes were purged before the hold; there is nothing left to hold.", code="clip_purged"
            )
        was = clip.legal_hold
        if was != on:
            clip.legal_hold = on
            clip.save(update_fields=["legal_hold", "updated_at"])
            clip_announce(clip)
        audit_record(
            action="clip.hold" if on else "clip.release",
            actor=actor,
            obj=clip,
            context=context,
            details={"reason": reason, "legal_hold": on, "changed": was != on},
        )
    if was != on:
        _queue_object_lock(clip.pk)
    return clip


# Access links ----------------------------------------------------------------------------------


def clip_access_link(
    *,
    clip: Clip,
    actor,
    reason: str,
    context: AuditContext | None = None,
    ttl: int | None = None,
    via: str = "access",
) -> dict:
    """A short-lived link to the clip's bytes (presigned GET on S3, a signed rtcc URL on disk),
    recorded in the clip's custody with actor, reason and source address."""
    link = _signed_link(clip=clip, actor=actor, ttl=ttl)
    with transaction.atomic():  # the access and its count together
        audit_record(**_access_event(clip=clip, actor=actor, reason=reason, context=context, via=via, link=link))
        counter_add(name=counted.EVIDENCE_ACCESS)  # the transparency report's count, last: held to the commit
    return link


def _signed_link(*, clip: Clip, actor, ttl: int | None) -> dict:
    """The link itself, not recorded yet: the caller records its access (_access_event)."""
    if clip.state != ClipState.AVAILABLE:
        raise Conflict(f"The clip is {clip.state}; only an available clip can be retrieved.", code="clip_not_available")
    ttl = conf.access_link_ttl() if ttl is None else ttl
    filename = clip_filename(clip)
    # Evidence always through rtcc (on S3 too), so a link dies with its holder's account or role.
    url = signed_get_path(
        clip.storage_key,
        expires_in=ttl,
        filename=filename,
        content_type=clip.content_type,
        grantee=str(actor.pk) if getattr(actor, "is_authenticated", False) else None,
        grant=grant_for(actor) if getattr(actor, "is_authenticated", False) else None,
    )
    expires_at = datetime.fromtimestamp(int(time.time()) + ttl, tz=UTC)
    return {
        "url": url,
        "expires_at": expires_at,
        "filename": filename,
        "sha256": clip.sha256,
        "size_bytes": clip.size_bytes,
    }


def _access_event(*, clip: Clip, actor, reason: str, context: AuditContext | None, via: str, link: dict) -> EventFields:
    """The custody event of one access link."""
    return {
        "action": "clip.access",
        "actor": actor,
        "obj": clip,
        "context": context,
        "details": {
            "reason": reason,
            "via": via,
            "expires_at": link["expires_at"].isoformat(),
            "storage": get_storage().name,
            "sha256": clip.sha256,
        },
    }


def clip_downloaded(
    *, clip: Clip, context: AuditContext, range_header: str | None, length: int, start: int, link: str
) -> None:
    """A GET of the clip's bytes through a signed link, in its custody; `context.actor` is the
    person the link was issued to (None, the system, for no one in particular). Each GET from the
    first byte is a download; so is the first GET through a link from anywhere else (`bytes=1-`
    took all but one byte unrecorded). A player's further ranges through the same link are not:
    they are the same download resumed or sought in."""
    with transaction.atomic():
        if (
            start
            and AuditEvent.objects.filter(
                action="clip.download", object_type="clip", object_id=str(clip.pk), details__link_id=link
            ).exists()
        ):
            return
        audit_record(
            action="clip.download",
            obj=clip,
            context=context,
            details={"range": range_header, "bytes": length, "link": "signed", "link_id": link},
        )


def case_manifest(
    *, clips: list[Clip], actor, reason: str, case_number: str, context: AuditContext | None = None
) -> dict:
    """A case's clips for a prosecutor: id, times, officer, size, SHA-256 and a link for each available
    clip (each link an access in that clip's custody), so every file can be checked with sha256sum."""
    ttl = conf.manifest_link_ttl()
    links = {
        clip.pk: _signed_link(clip=clip, actor=actor, ttl=ttl) for clip in clips if clip.state == ClipState.AVAILABLE
    }
    via = f"manifest:{case_number}"
    # Every access in one append and one count: one by one, each event moved the chain head and
    # each count its row again in this one transaction, and PostgreSQL walked every earlier version
    # of those rows at each step (a case of 4,900 clips took 115 s).
    events = [
        _access_event(clip=clip, actor=actor, reason=reason, context=context, via=via, link=links[clip.pk])
        for clip in clips
        if clip.pk in links
    ]
    with transaction.atomic():
        audit_record_many(events)
        if events:
            counter_add(name=counted.EVIDENCE_ACCESS, n=len(events))  # last: held to the commit
    entries = []
    for clip in clips:
        link = links.get(clip.pk)
        entries.append(
            {
                "id": str(clip.pk),
                "filename": clip_filename(clip),
                "started_at": clip.started_at,
                "ended_at": clip.ended_at,
                "duration_s": clip.duration_s,
                "officer": clip.officer_id,
                "officer_name": str(clip.officer) if clip.officer else "",
                "officer_badge": clip.officer.badge_number if clip.officer else "",
                "device": clip.device_id,
                "device_serial": clip.device.serial if clip.device else "",
                "category": clip.category.slug,
                "state": clip.state,
                "size_bytes": clip.size_bytes,
                "sha256": clip.sha256,
                "content_type": clip.content_type,
                "url": link["url"] if link else None,
                "expires_at": link["expires_at"] if link else None,
            }
        )
    return {
        "case_number": case_number,
        "generated_at": timezone.now(),
        "generated_by": actor.get_username(),
        "reason": reason,
        "count": len(entries),
        "clips": entries,
    }


# Retention: purge to a tombstone ---------------------------------------------------------------


def clip_purge(
    *,
    clip_id,
    actor: Any = None,
    reason: str,
    reviewed: bool = False,
    context: AuditContext | None = None,
    now: datetime | None = None,
) -> Clip:
    """Deletes a clip's bytes and keeps its row as a tombstone (state purged; hash, size, who, why, when).

    The one way footage bytes are deleted, and it refuses: a held clip (ever); a clip whose retention
    has not passed or that is kept indefinitely; an `uploading` or `verifying` clip; a `corrupt` one
    unless a person reviewed it (`reviewed`). The row stays locked while the store deletes, so a hold
    placed at the same moment waits and then finds the clip purged, never the other way round.
    """
    now = now or timezone.now()
    with transaction.atomic():
        clip = Clip.objects.select_for_update().filter(pk=clip_id).first()
        if clip is None:
            raise NotFound("No such clip.")
        if clip.legal_hold:
            raise ClipHeldError("The clip is on legal hold; it is never deleted.")
        if clip.state == ClipState.PURGED:
            return clip
        if clip.state == ClipState.CORRUPT and not reviewed:
            raise Conflict("A corrupt clip is purged only after a person has reviewed it.", code="review_required")
        if clip.state not in (ClipState.AVAILABLE, ClipState.CORRUPT):
            raise Conflict(f"The clip is {clip.state}; it cannot be purged.", code="clip_not_purgeable")
        if clip.retain_until is None or clip.retain_until > now:
            raise Conflict("The clip's retention has not passed.", code="retention_not_passed")
        storage = get_storage()
        storage.purge(clip.storage_key)  # StorageError rolls everything back: the clip stays as it was
        clip.state = ClipState.PURGED
        clip.purged_at = now
        clip.purged_by = actor if getattr(actor, "is_authenticated", False) else None
        clip.purge_reason = reason[:500]
        clip.save(update_fields=["state", "purged_at", "purged_by", "purge_reason", "updated_at"])
        audit_record(
            action="clip.purge",
            actor=actor,
            obj=clip,
            context=context,
            details={
                "reason": reason,
                "reviewed": reviewed,
                "retain_until": iso_time(clip.retain_until),
                "category": clip.category.slug,
                "sha256": clip.sha256,
                "size_bytes": clip.size_bytes,
                "storage_key": clip.storage_key,
                "storage": storage.name,
            },
        )
        clip_announce(clip)
    return clip


def clips_purge_expired(*, now: datetime | None = None, limit: int | None = None) -> dict:
    """The periodic purge: bytes of available, unheld clips whose retain_until has passed."""
    now = now or timezone.now()
    purged = skipped = 0
    for clip_id in purge_candidates(now=now, limit=limit or conf.purge_batch()):
        try:
            clip_purge(clip_id=clip_id, reason="retention period passed", now=now)
            purged += 1
        except (Conflict, NotFound):
            skipped += 1  # held or changed since it was picked: the guard in clip_purge decided
        except StorageError:
            skipped += 1
            log.exception("could not purge the bytes of clip %s", clip_id)
    return {"purged": purged, "skipped": skipped}


# Object Lock -----------------------------------------------------------------------------------


def _queue_object_lock(clip_id) -> None:
    from .tasks import clip_object_lock_sync

    transaction.on_commit(lambda: clip_object_lock_sync.delay(str(clip_id)))


def clip_object_lock(*, clip_id) -> Clip | None:
    """Where the bucket has Object Lock, makes the stored object's lock match the clip: retention
    until retain_until (only ever extended), and the object's legal hold on while the clip is held or
    kept indefinitely. Without Object Lock (a directory, or a store without the feature): nothing."""
    storage = get_storage()
    clip = Clip.objects.filter(pk=clip_id).first()
    if clip is None or clip.state != ClipState.AVAILABLE or not storage.object_lock_enabled():
        return clip
    now = timezone.now()
    retain = clip.retain_until
    extend = retain is not None and retain > now and (clip.object_lock_until is None or retain > clip.object_lock_until)
    hold = clip.legal_hold or retain is None
    try:
        storage.object_lock_apply(
            clip.storage_key,
            retain_until=retain if extend else None,
            mode=conf.object_lock_mode(),
            legal_hold=hold,
        )
    except StorageError:
        log.exception("could not set Object Lock on clip %s", clip.pk)
        return clip
    with transaction.atomic():
        fields: dict[str, datetime | None] = {"object_locked_at": now, "updated_at": now}
        if extend:
            fields["object_lock_until"] = retain
        Clip.objects.filter(pk=clip.pk).update(**fields)
        audit_record(
            action="clip.object_lock",
            actor=None,
            obj=clip,
            details={
                "mode": conf.object_lock_mode(),
                "retain_until": iso_time(retain if extend else clip.object_lock_until),
                "legal_hold": hold,
            },
        )
    clip.refresh_from_db()
    return clip


def clips_object_lock_sweep(*, limit: int | None = None) -> int:
    """Sets Object Lock on clips that became available since the last sweep; the number handled."""
    if not get_storage().object_lock_enabled():
        return 0
    ids = object_lock_candidates(limit=limit or conf.object_lock_batch())
    for clip_id in ids:
        clip_object_lock(clip_id=clip_id)
    return len(ids)
