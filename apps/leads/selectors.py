"""Reads of leads: the filtered list, the review queue, and related evidence near each event."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.alpr.models import Read
from apps.core.geo import EARTH_RADIUS_M, distance_m
from apps.core.realtime import iso_time
from apps.footage.models import Clip

from . import conf
from .models import Kind, Lead, State


def lead_list(*, kind: str | None = None, state: str | None = None, case_number: str | None = None) -> QuerySet[Lead]:
    queryset = Lead.objects.select_related("created_by", "reviewed_by").prefetch_related("shares")
    if kind:
        queryset = queryset.filter(kind=kind)
    if state:
        queryset = queryset.filter(state=state)
    if case_number:
        queryset = queryset.filter(case_number=case_number)
    return queryset.order_by("-created_at", "id")


def candidate_photos_named(ids: set[str], since: datetime) -> set[str]:
    """Which of these media ids a candidate of a lead made since `since` names (for the purge of
    unused photos: a lead saved by the previous release did not mark them in use)."""
    named: set[str] = set()
    rows = Lead.objects.filter(created_at__gte=since).values_list("candidates", flat=True)
    for candidates in rows.iterator(chunk_size=2000):
        for candidate in candidates or []:
            photo = str(candidate.get("photo") or "") if isinstance(candidate, dict) else ""
            if photo in ids:
                named.add(photo)
    return named


def badge_of(user) -> str:
    """The badge number that names the person behind an account ("" for none): the two-person
    rule takes two accounts with one badge for one person."""
    return (getattr(user, "badge_number", "") or "").strip()


def lead_review_queue(*, user) -> QuerySet[Lead]:
    """Leads waiting for a second person: never the viewer's own (nor one created under the
    viewer's badge number: services.refuse_own_review), oldest first."""
    queue = lead_list(state=State.PENDING_REVIEW).exclude(created_by=user)
    if badge := badge_of(user):
        queue = queue.exclude(created_by__badge_number__iexact=badge).exclude(created_by_badge__iexact=badge)
    return queue.order_by("created_at", "id")


def review_overdue(lead: Lead, *, now: datetime | None = None) -> bool:
    """A NIBIN lead left without a review beyond the due time (48 hours) is flagged."""
    now = now or timezone.now()
    return (
        lead.kind == Kind.NIBIN
        and lead.state == State.PENDING_REVIEW
        and now - lead.created_at > conf.nibin_review_due()
    )


EDGE_M = 0.001


def _box(lat: float, lon: float, radius_m: float) -> dict:
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6)))
    return {"lat__gte": lat - dlat, "lat__lte": lat + dlat, "lon__gte": lon - dlon, "lon__lte": lon + dlon}


def events_out(events: list[dict]) -> list[dict]:
    """A lead's events as the API writes them: each `occurred_at` in UTC with "Z", as every other
    time (leads stored before this wrote "+00:00")."""
    return [{**event, "occurred_at": iso_time(_event_time(event).astimezone(UTC))} for event in events]


def _event_time(event: dict) -> datetime:
    value = event["occurred_at"]
    parsed = value if isinstance(value, datetime) else parse_datetime(value)  # stored as RFC 3339 text
    if parsed is None:
        raise ValueError(f"not a time: {value!r}")
    return parsed


def lead_related(*, lead: Lead, radius_m: float | None = None, hours: float | None = None) -> dict:
    """Clips whose recording overlaps each event's time +-hours, and plate reads whose read_at
    falls in it, recorded within radius_m of the event's place. Each item names its events.
    At most `related_limit` of each per event, the earliest; `truncated` says where there were more."""
    radius_m = conf.related_radius_m() if radius_m is None else radius_m
    # A millimetre over: a point exactly at the radius (500 m due north) came out 500.00000000007 m
    # away in floating point and was left out, where the same distance east or west was in.
    reach = radius_m + EDGE_M
    window = timedelta(hours=conf.related_hours() if hours is None else hours)
    limit = conf.related_limit()
    clips: dict = {}
    reads: dict = {}
    truncated = {"clips": False, "plate_reads": False}  # an event had more than `limit` nearby
    for index, event in enumerate(lead.events):
        lat, lon, at = event["location"]["lat"], event["location"]["lon"], _event_time(event)
        box = _box(lat, lon, reach)
        near_clips = Clip.objects.select_related("category").filter(  # ClipOut names the category
            started_at__lte=at + window, ended_at__gte=at - window, **box
        )
        found_clips = list(near_clips.order_by("started_at")[: limit + 1])
        truncated["clips"] |= len(found_clips) > limit
        for clip in found_clips[:limit]:
            distance = distance_m(lat, lon, clip.lat or 0.0, clip.lon or 0.0)
            if distance <= reach:
                found = clips.setdefault(clip.pk, {"clip": clip, "events": [], "distance_m": distance})
                found["events"].append(index)
                found["distance_m"] = min(found["distance_m"], distance)
        near_reads = Read.objects.filter(read_at__gte=at - window, read_at__lte=at + window, **box)
        found_reads = list(near_reads.order_by("read_at")[: limit + 1])
        truncated["plate_reads"] |= len(found_reads) > limit
        for read in found_reads[:limit]:
            distance = distance_m(lat, lon, read.lat or 0.0, read.lon or 0.0)
            if distance <= reach:
                found = reads.setdefault(read.pk, {"read": read, "events": [], "distance_m": distance})
                found["events"].append(index)
                found["distance_m"] = min(found["distance_m"], distance)
    return {
        "clips": sorted(clips.values(), key=lambda c: c["clip"].started_at),
        "plate_reads": sorted(reads.values(), key=lambda r: r["read"].read_at),
        "truncated": truncated,
    }
