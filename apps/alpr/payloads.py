"""The contract's shapes of reads, entries, hotlists and hits (PROTOCOL.md), as plain dicts:
the API and the console events (`hit.new`, `hit.update`) send the same thing."""

from __future__ import annotations

from django.utils import timezone

from . import conf
from .models import Entry, Hit, Hotlist, Read


def _time(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def image_path(read_id) -> str:
    return f"/api/v1/plate-reads/{read_id}/image"


def read_payload(read: Read, *, hits: list | None = None, base_url: str = "") -> dict:
    return {
        "id": str(read.pk),
        "reader": str(read.reader_id),
        "read_id": read.read_id,
        "plate": read.plate,
        "plate_normalized": read.plate_normalized,
        "plate_state": read.plate_state or None,
        "confidence": read.confidence,
        "read_at": _time(read.read_at),
        "received_at": _time(read.received_at),
        "location": None if read.lat is None else {"lat": read.lat, "lon": read.lon},
        "heading": read.heading,
        "candidates": read.candidates,
        "vehicle": read.vehicle,
        "image_url": (base_url.rstrip("/") + image_path(read.pk)) if read.image_key else None,
        "image_sha256": read.image_sha256 or None,
        "hits": [str(h) for h in (hits or [])],
    }


def entry_payload(entry: Entry) -> dict:
    return {
        "id": str(entry.pk),
        "hotlist": str(entry.hotlist_id),
        "plate": entry.plate,
        "plate_normalized": entry.plate_normalized,
        "plate_state": entry.plate_state or None,
        "reason": entry.reason,
        "case_number": entry.case_number,
        "expires_at": _time(entry.expires_at),
        "note": entry.note,
        "vehicle": entry.vehicle,
        "created_by": None if entry.created_by_id is None else str(entry.created_by_id),
        "created_at": _time(entry.created_at),
        "removed_at": _time(entry.removed_at),
    }


def hotlist_payload(hotlist: Hotlist, *, entry_count: int | None = None) -> dict:
    stale_cutoff = timezone.now() - conf.stale_after()
    reference = hotlist.last_import_at
    return {
        "id": str(hotlist.pk),
        "name": hotlist.name,
        "source": hotlist.source,
        "priority": hotlist.priority,
        "entry_count": entry_count if entry_count is not None else getattr(hotlist, "entry_count", 0),
        "updated_at": _time(hotlist.updated_at),
        "created_at": _time(hotlist.created_at),
        "last_import_at": _time(reference),
        # a list fed by imports (NCIC, state) whose last one is more than a day old
        "stale": reference is not None and reference < stale_cutoff,
    }


def hit_payload(hit: Hit, *, read_hits: list | None = None, base_url: str = "") -> dict:
    hotlist = hit.hotlist
    summary = {"id": str(hotlist.pk), "name": hotlist.name, "source": hotlist.source, "priority": hotlist.priority}
    return {
        "id": str(hit.pk),
        "read": read_payload(hit.read, hits=read_hits if read_hits is not None else [hit.pk], base_url=base_url),
        "entry": entry_payload(hit.entry),
        "hotlist": summary,
        "match": hit.match,
        "historical": hit.historical,
        "state": hit.state,
        "created_at": _time(hit.created_at),
        "reviewed_by": None if hit.reviewed_by_id is None else str(hit.reviewed_by_id),
        "reviewed_at": _time(hit.reviewed_at),
        "reject_reason": hit.reject_reason or None,
        "note": hit.note,
        "briefing": None if hit.briefing_id is None else str(hit.briefing_id),
    }
