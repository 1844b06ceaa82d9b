"""Reads of footage records: who may see which clips, footage search, custody, case lists."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import F, IntegerField, QuerySet, Subquery
from django.utils.dateparse import parse_date, parse_datetime

from apps.accounts.permissions import is_person
from apps.audit.models import AuditEvent, AuditHead
from apps.audit.services import GENESIS, audit_seal_pending
from apps.core.errors import Forbidden, InvalidInput, NotFound

from .. import conf
from ..models import Category, Clip, ClipState, Trigger

METRES_PER_DEGREE = 111_195.0  # one degree of latitude (mean Earth radius 6,371 km)

# Query parameters of GET /clips besides pagination; anything else is refused (never silently ignored).
SEARCH_PARAMS = {
    "officer",
    "device",
    "incident",
    "case_number",
    "category",
    "trigger",
    "state",
    "from",
    "to",
    "near",
    "lat",
    "lon",
    "radius_m",
    "legal_hold",
}
PAGE_PARAMS = {"page", "page_size"}


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


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", fields={field: [message]})


def _uuid(name: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _bad(name, "Must be an id (a UUID).") from None


def _time(name: str, value: str) -> datetime:
    raw = value.strip()
    if "T" in raw and " " in raw:
        raw = raw.replace(" ", "+")  # an unencoded "+02:00" arrives as " 02:00"
    try:
        parsed = parse_datetime(raw)
        if parsed is None and len(raw) == 10:
            day = parse_date(raw)
            parsed = datetime.combine(day, time.min) if day else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _bad(name, "Must be a time in RFC 3339 form, e.g. 2025-01-31T14:00:00Z (or a date, 2025-01-31).")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _float(name: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _bad(name, "Must be a number.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise _bad(name, f"Must be between {low:g} and {high:g}.")
    return number


def _near(params: dict) -> Near | None:
    max_radius = conf.search_max_radius_m()
    near, lat, lon, radius = (params.get(k) for k in ("near", "lat", "lon", "radius_m"))
    if near is not None:
        if lat is not None or lon is not None or radius is not None:
            raise _bad("near", "Give either near=lat,lon,radius_m or lat, lon and radius_m, not both.")
        parts = [p.strip() for p in near.split(",")]
        if len(parts) != 3:
            raise _bad("near", "Must be lat,lon,radius_m, e.g. near=40.7128,-74.0060,500.")
        lat, lon, radius = parts
        names = ("near", "near", "near")
    else:
        if lat is None and lon is None and radius is None:
            return None
        missing = [k for k, v in (("lat", lat), ("lon", lon), ("radius_m", radius)) if v is None]
        if missing:
            raise InvalidInput(
                "lat, lon and radius_m go together.",
                fields={k: ["Required with the other two of lat, lon, radius_m."] for k in missing},
            )
        names = ("lat", "lon", "radius_m")
    assert lat is not None and lon is not None and radius is not None  # each was checked above
    radius_m = _float(names[2], radius, 0, max_radius)
    if radius_m <= 0:
        raise _bad(names[2], "Must be more than 0 metres.")
    return Near(_float(names[0], lat, -90, 90), _float(names[1], lon, -180, 180), radius_m)


def _choices(name: str, value: str, allowed: list[str]) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown or not chosen:
        raise _bad(name, f"Must be one of {', '.join(allowed)} (comma-separated for several).")
    return chosen


def parse_search_params(query_params) -> dict:
    """The filters of GET /clips from its query parameters; an unusable or unknown parameter is a 400.

    Empty values count as not given (so `?officer=&device=` is the unfiltered search).
    """
    unknown = sorted(set(query_params) - SEARCH_PARAMS - PAGE_PARAMS)
    if unknown:
        raise InvalidInput(
            f"Unknown query parameter {unknown[0]!r}.",
            fields={name: ["Not a filter of this list."] for name in unknown},
        )
    params = {name: query_params.get(name) for name in SEARCH_PARAMS if query_params.get(name, "").strip() != ""}
    filters: dict = {}
    for name in ("officer", "device", "incident"):
        if name in params:
            filters[name] = _uuid(name, params[name].strip())
    if "case_number" in params:
        value = params["case_number"].strip()
        if len(value) > 64:
            raise _bad("case_number", "At most 64 characters.")
        filters["case_number"] = value
    if "category" in params:
        slugs = [s.strip() for s in params["category"].split(",") if s.strip()]
        found = dict(Category.objects.filter(slug__in=slugs).values_list("slug", "pk"))
        missing = [s for s in slugs if s not in found]
        if missing or not slugs:
            raise _bad("category", f"No category {missing[0] if missing else ''!r}; see GET /api/v1/categories.")
        filters["category"] = [found[s] for s in slugs]
    if "trigger" in params:
        filters["trigger"] = _choices("trigger", params["trigger"], Trigger.values)
    if "state" in params:
        filters["state"] = _choices("state", params["state"], ClipState.values)
    if "legal_hold" in params:
        value = params["legal_hold"].strip().lower()
        if value not in {"true", "false"}:
            raise _bad("legal_hold", "Must be true or false.")
        filters["legal_hold"] = value == "true"
    for name in ("from", "to"):
        if name in params:
            filters[name] = _time(name, params[name])
    if "from" in filters and "to" in filters and filters["from"] > filters["to"]:
        raise _bad("to", "Must not be before from.")
    near = _near(params)
    if near is not None:
        filters["near"] = near
    return filters


def filter_clips(queryset: QuerySet[Clip], filters: dict) -> QuerySet[Clip]:
    """Applies parsed search filters, each matching an index of the clip table.

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


def page_and_count(queryset: QuerySet, *, offset: int, limit: int, cap: int | None = None) -> tuple[list, int | None]:
    """(rows[offset:offset+limit], matches counted up to cap+1) in one round trip: the capped count
    rides along as a scalar subquery (PostgreSQL runs it once), over started_at only, so that it is
    an index-only scan. The count is None when the slice is empty."""
    cap = conf.search_count_cap() if cap is None else cap
    counter = CountOf(queryset.select_related(None).order_by().values("started_at")[: cap + 1])
    rows = list(queryset.annotate(_matches=counter)[offset : offset + limit])
    return rows, (rows[0]._matches if rows else None)


class CountOf(Subquery):
    """The number of rows a (sliced) queryset yields, as a scalar subquery."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _matches)"
    output_field = IntegerField()


def estimated_count(queryset: QuerySet) -> int | None:
    """The planner's row estimate for this query (PostgreSQL), without running it."""
    if connection.vendor != "postgresql":
        return None
    plan = queryset.select_related(None).order_by().explain(format="json")
    try:
        return int(json.loads(plan)[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


# Custody ---------------------------------------------------------------------------------------


@dataclass
class CustodyEvent:
    event: AuditEvent
    verified: bool


def clip_custody(*, clip: Clip) -> tuple[list[CustodyEvent], bool]:
    """Every audit event on the clip, oldest first, each with the chain's verdict, and the verdict for all.

    A row is verified when it still matches its own hash, links to the event before it in the one
    chain, and the event after it (or the chain head) links to it: an edited row, even with its
    hash recomputed, and a deleted neighbour both show.
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
    return out, all(row.verified for row in out)


# Cases -----------------------------------------------------------------------------------------


def case_clips(*, case_number: str) -> list[Clip]:
    """Every clip filed under this case number, oldest first (the order a prosecutor reads them)."""
    clips = list(
        Clip.objects.filter(case_number=case_number)
        .select_related("category")
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
