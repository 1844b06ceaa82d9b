"""Reads of footage records: who may see which clips, footage search, custody, case lists."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, QuerySet

from apps.accounts.permissions import is_person
from apps.audit.models import AuditEvent, AuditHead
from apps.audit.selectors import audit_trail_whole
from apps.audit.services import GENESIS, audit_seal_pending
from apps.core.errors import Forbidden, InvalidInput, NotFound

from .. import conf
from ..models import Category, Clip, ClipState

METRES_PER_DEGREE = 111_195.0  # one degree of latitude (mean Earth radius 6,371 km)

# Who sees what ---------------------------------------------------------------------------------


def visible_clips(*, user) -> QuerySet[Clip]:
    """Clips this person may see: clerks and operators all (operators: metadata only), an officer
    the clips recorded on their own assignments. IT never sees footage, and devices are not people."""
    if not is_person(user) or not user.is_active:
        raise Forbidden("Footage is for records clerks, operators and officers.")
    if user.has_role("clerk", "operator"):
        return Clip.objects.all()
    if user.has_role("officer"):
        return Clip.objects.filter(officer=user)
    raise Forbidden("Your role does not see footage.")


def clip_get(*, user, clip_id) -> Clip:
    """One clip, if this person may see it; 404 otherwise (also for clips of other officers)."""
    clip = visible_clips(user=user).select_related("category").filter(pk=clip_id).first()
    if clip is None:
        raise NotFound("No such clip.")
    return clip


def may_access_bytes(*, user, clip: Clip) -> bool:
    """Clerks every clip, an officer the clips of their own assignments; operators and IT never."""
    if not is_person(user) or not user.is_active:
        return False
    if user.has_role("clerk"):
        return True
    return user.has_role("officer") and clip.officer_id == user.pk


# Search ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Near:
    lat: float
    lon: float
    radius_m: float


def category_ids(*, slugs: list[str]) -> dict[str, int]:
    """{slug: id} of the categories that exist among `slugs`."""
    return dict(Category.objects.filter(slug__in=slugs).values_list("slug", "pk"))


def categories() -> QuerySet[Category]:
    """Every category, by slug."""
    return Category.objects.order_by("slug")


def filter_clips(queryset: QuerySet[Clip], filters: dict) -> QuerySet[Clip]:
    """Applies search filters (ClipSearchIn's validated data), each matching an index of the clip table.

    Time range: a clip matches when it overlaps [from, to] (recorded during the window). Since no clip
    is longer than the longest declarable recording, the start is also bounded below, so the scan
    stays on the (x, started_at) indexes. Near: a bounding box (on the lat, lon index), then the exact
    circle in flat-earth metres (exact enough for a city; a search does not cross the antimeridian).
    """
    if "officer" in filters:
        queryset = queryset.filter(officer_id=filters["officer"])
    if "device" in filters:
        queryset = queryset.filter(device_id=filters["device"])
    if "incident" in filters:
        queryset = queryset.filter(incident_id=filters["incident"])
    if "case_number" in filters:
        queryset = queryset.filter(case_number=filters["case_number"])
    if "category" in filters:
        ids = filters["category"]
        queryset = queryset.filter(category_id=ids[0]) if len(ids) == 1 else queryset.filter(category_id__in=ids)
    for name in ("trigger", "state"):
        if name in filters:
            values = filters[name]
            queryset = queryset.filter(**{name: values[0]} if len(values) == 1 else {f"{name}__in": values})
    if "legal_hold" in filters:
        queryset = queryset.filter(legal_hold=filters["legal_hold"])
    if "from" in filters:
        longest = timedelta(seconds=conf.max_duration())
        queryset = queryset.filter(ended_at__gte=filters["from"], started_at__gte=filters["from"] - longest)
    if "to" in filters:
        queryset = queryset.filter(started_at__lte=filters["to"])
    if "near" in filters:
        near: Near = filters["near"]
        dlat = near.radius_m / METRES_PER_DEGREE
        squeeze = max(math.cos(math.radians(near.lat)), 1e-6)
        dlon = min(180.0, dlat / squeeze)
        queryset = queryset.filter(
            lat__gte=near.lat - dlat, lat__lte=near.lat + dlat, lon__gte=near.lon - dlon, lon__lte=near.lon + dlon
        )
        dy = F("lat") - near.lat
        dx = (F("lon") - near.lon) * squeeze
        queryset = queryset.alias(_d2=dy * dy + dx * dx).filter(_d2__lte=dlat * dlat)
    return queryset


def clip_search(*, user, filters: dict) -> QuerySet[Clip]:
    """The clips this person may see that match the filters, newest first (ties broken by id)."""
    return filter_clips(visible_clips(user=user), filters).select_related("category").order_by("-started_at", "-id")


# Custody ---------------------------------------------------------------------------------------


@dataclass
class CustodyEvent:
    event: AuditEvent
    verified: bool


def clip_custody(*, clip: Clip) -> tuple[list[CustodyEvent], bool]:
    """Every audit event on the clip, oldest first, each with the chain's verdict, and the verdict for all.

    A row is verified when it still matches its own hash, links to the event before it in the one
    chain, and the event after it (or the chain head) links to it: an edited row, even with its
    hash recomputed, and a deleted neighbour both show. The verdict for all also holds the checks
    of the whole trail (audit_trail_whole): an event of another object deleted anywhere, or a
    problem the last full walk of the chain found, makes it false too.
    """
    audit_seal_pending()  # an event still waiting for its place in the chain gets it first
    events = list(
        AuditEvent.objects.filter(object_type="clip", object_id=str(clip.pk), seq__isnull=False).order_by("seq")
    )
    places = [int(e.seq or 0) for e in events]
    neighbours = {s - 1 for s in places} | {s + 1 for s in places}
    neighbours -= set(places)
    rows: dict[int, tuple[str, str]] = {s: (e.prev_hash, e.hash) for e, s in zip(events, places, strict=True)}
    wanted = sorted(s for s in neighbours if s > 0)
    for start in range(0, len(wanted), 500):
        for seq, prev_hash, hash_ in AuditEvent.objects.filter(seq__in=wanted[start : start + 500]).values_list(
            "seq", "prev_hash", "hash"
        ):
            rows[int(seq or 0)] = (prev_hash, hash_)
    head = AuditHead.objects.filter(id=1).first()
    out = []
    for event, seq in zip(events, places, strict=True):
        ok = event.compute_hash() == event.hash
        previous = rows.get(seq - 1)
        before = GENESIS if seq == 1 else (previous[1] if previous else None)
        ok = ok and before is not None and event.prev_hash == before
        after = rows.get(seq + 1)
        if after is not None:
            ok = ok and after[0] == event.hash
        else:
            ok = ok and head is not None and head.seq == seq and head.hash == event.hash
        out.append(CustodyEvent(event, ok))
    return out, all(row.verified for row in out) and audit_trail_whole()


# Cases -----------------------------------------------------------------------------------------


def case_clips(*, case_number: str) -> list[Clip]:
    """Every clip filed under this case number, oldest first (the order a prosecutor reads them)."""
    clips = list(
        Clip.objects.filter(case_number=case_number)
        .select_related("category", "officer", "device")
        .order_by("started_at", "id")[: conf.manifest_max_clips() + 1]
    )
    if not clips:
        raise NotFound("No clips are filed under this case number.")
    if len(clips) > conf.manifest_max_clips():
        raise InvalidInput(
            f"This case has more than {conf.manifest_max_clips()} clips; a manifest lists at most that many.",
            code="case_too_large",
        )
    return clips


def purge_candidates(*, now: datetime, limit: int) -> list:
    """Ids of clips whose retention has passed and whose bytes may go: available, not held."""
    return list(
        Clip.objects.filter(state=ClipState.AVAILABLE, legal_hold=False, retain_until__lt=now)
        .order_by("retain_until")
        .values_list("pk", flat=True)[:limit]
    )


def object_lock_candidates(*, limit: int) -> list:
    """Ids of available clips whose Object Lock has never been set."""
    return list(
        Clip.objects.filter(state=ClipState.AVAILABLE, object_locked_at__isnull=True)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def clip_filename(clip: Clip) -> str:
    """The file name a clip is handed out under (and listed under in a manifest): <id><extension>."""
    suffix = clip.storage_key.rsplit("/", 1)[-1]
    ext = suffix[suffix.rfind(".") :] if "." in suffix else ".bin"
    return f"{clip.pk}{ext}"
