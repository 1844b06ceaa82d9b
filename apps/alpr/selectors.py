"""Reads of the plate-reader app: hits, hotlists, entries, plate search."""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from django.db.models import CharField, Count, F, Lookup, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.core import plates
from apps.core.errors import NotFound

from .models import Entry, Hit, Hotlist, Read


@CharField.register_lookup
class Like(Lookup):
    """`field__like="AB%12_"`: SQL LIKE (the patterns built here hold only A-Z, 0-9, % and _)."""

    lookup_name = "like"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE {rhs}", [*lhs_params, *rhs_params]


def hotlist_list() -> QuerySet[Hotlist]:
    # Each list's live entries counted in a subquery: from the partial index alone (alpr_entry_live_list),
    # where a join and a filtered count read every entry of every list.
    live = (
        Entry.objects.filter(hotlist=OuterRef("pk"), removed_at__isnull=True)
        .order_by()
        .values("hotlist")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Hotlist.objects.annotate(entry_count=Coalesce(Subquery(live), 0))


def hotlist_get(*, hotlist_id) -> Hotlist:
    hotlist = hotlist_list().filter(pk=hotlist_id).first()
    if hotlist is None:
        raise NotFound("No such hotlist.")
    return hotlist


def entry_list(*, hotlist: Hotlist) -> QuerySet[Entry]:
    return Entry.objects.filter(hotlist=hotlist, removed_at__isnull=True).order_by("created_at", "id")


def entry_get(*, hotlist: Hotlist, entry_id) -> Entry:
    entry = Entry.objects.filter(hotlist=hotlist, pk=entry_id, removed_at__isnull=True).first()
    if entry is None:
        raise NotFound("No such entry on this hotlist.")
    return entry


def hit_list(*, state: str | None = None, hotlist=None) -> QuerySet[Hit, uuid.UUID]:
    """The hits' ids, newest first: a page is found on alpr_hit's own indexes, and hit_rows joins
    only that page to its reads, entries and lists. Joined before the OFFSET, a page deep in the
    queue joined every read of every partition (no read_at to prune by) and sorted them: page 100
    of 200 took 1.1 s over 3 million reads, and grows with the reads kept."""
    hits = Hit.objects.all()
    if state:
        hits = hits.filter(state=state)
    if hotlist:
        hits = hits.filter(hotlist_id=hotlist)
    return hits.order_by("-created_at", "id").values_list("pk", flat=True)


def hit_rows(ids) -> list[Hit]:
    """These hits with their read, entry and list, in the order of `ids`."""
    ids = list(ids)
    found = Hit.objects.select_related("read", "entry", "hotlist").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def hit_get(*, hit_id) -> Hit:
    hit = Hit.objects.select_related("read", "entry", "hotlist").filter(pk=hit_id).first()
    if hit is None:
        raise NotFound("No such hit.")
    return hit


def hit_ids_by_read(read_ids) -> dict:
    out: dict = {}
    for read_id, hit_id in Hit.objects.filter(read_id__in=list(read_ids)).values_list("read_id", "id"):
        out.setdefault(read_id, []).append(hit_id)
    return out


def read_search(
    *,
    plate: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    near: tuple[float, float, float] | None = None,
) -> QuerySet[Read]:
    """Reads by plate (`*` any run, `?` one character), time window and area (a bounding box
    in SQL, then the exact circle: see read_search_page)."""
    reads = Read.objects.all()
    if plate:
        pattern = plates.normalize_pattern(plate)
        if plates.is_wildcard(pattern):
            reads = reads.filter(plate_normalized__like=plates.pattern_to_like(pattern))
        else:
            reads = reads.filter(plate_normalized=pattern)
    if start:
        reads = reads.filter(read_at__gte=start)
    if end:
        reads = reads.filter(read_at__lt=end)
    if near:
        lat, lon, radius = near
        dlat = radius / 111_320.0
        dlon = radius / max(1.0, 111_320.0 * math.cos(math.radians(lat)))
        reads = reads.filter(lat__gte=lat - dlat, lat__lte=lat + dlat, lon__gte=lon - dlon, lon__lte=lon + dlon)
        # then the circle, flat-earth within the box (metres per degree at this latitude)
        ky, kx = 111_320.0, 111_320.0 * math.cos(math.radians(lat))
        reads = reads.alias(
            d2=((F("lat") - lat) * ky) * ((F("lat") - lat) * ky) + ((F("lon") - lon) * kx) * ((F("lon") - lon) * kx)
        ).filter(d2__lte=radius * radius)
    return reads.order_by("-read_at", "id")
