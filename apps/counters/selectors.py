"""Reads of the counters: totals and series over any window, from the fewest rows that cover it.

A window is covered by whole months in the middle, whole days next to them and hours next to
those: a five-year report reads about 60 month rows per name, never one row per event. Its ends,
when they fall inside an hour, are counted from the exact rows of the events between the end and
the hour (a count is of the events inside the window, to the microsecond). Exact rows are kept
models.EXACT_KEEP: a window that starts before that (or before the exact rows began) is taken in
whole hours, its start rounded down and its end up (`counted_window` says which).
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from .models import EXACT_KEEP, EXACT_SINCE, Count, Level
from .services import floor_day, floor_hour, floor_month

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def next_month(at: datetime) -> datetime:
    return at.replace(year=at.year + 1, month=1) if at.month == 12 else at.replace(month=at.month + 1)


def ceil_hour(at: datetime) -> datetime:
    floor = floor_hour(at)
    return floor if floor == at else floor + HOUR


def _ceil_day(at: datetime) -> datetime:
    floor = floor_day(at)
    return floor if floor == at else floor + DAY


def _ceil_month(at: datetime) -> datetime:
    floor = floor_month(at)
    return floor if floor == at else next_month(floor)


def _span(level: str, start: datetime, end: datetime) -> Q:
    return Q(level=level, start__gte=start, start__lt=end)


def _days_and_hours(start: datetime, end: datetime) -> list[Q]:
    first, last = _ceil_day(start), floor_day(end)
    if first >= last:
        return [_span(Level.HOUR, start, end)] if start < end else []
    parts = [_span(Level.DAY, first, last)]
    if start < first:
        parts.append(_span(Level.HOUR, start, first))
    if last < end:
        parts.append(_span(Level.HOUR, last, end))
    return parts


def _whole(start: datetime, end: datetime, months: bool) -> list[Q]:
    """Buckets covering [start, end), both on the hour, exactly once."""
    if not months:
        return _days_and_hours(start, end)
    first, last = _ceil_month(start), floor_month(end)
    if first >= last:
        return _days_and_hours(start, end)
    return [_span(Level.MONTH, first, last), *_days_and_hours(start, first), *_days_and_hours(last, end)]


# How far the exact rows may lag being pruned behind the newest of them, as this process sees the
# clock: a window starting that close to EXACT_KEEP ago is taken in whole hours.
_PRUNE_MARGIN = HOUR
_since: list[datetime] = []  # the exact rows' beginning (migration 0003), read once per process


def exact_since(now: datetime | None = None) -> datetime:
    """Every counted event since this instant has its exact row."""
    if not _since:
        marked = Count.objects.filter(level=Level.EXACT, name=EXACT_SINCE).order_by("start")
        began = marked.values_list("start", flat=True).first()
        if began is None:  # the marker is gone (a flushed database): exact from now on
            began = timezone.now()
            with contextlib.suppress(IntegrityError), transaction.atomic():
                Count.objects.create(level=Level.EXACT, start=began, name=EXACT_SINCE, n=0)
        _since.append(began)
    return max(_since[0], (now or timezone.now()) - EXACT_KEEP + _PRUNE_MARGIN)


def counted_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """What is counted for the window [start, end): itself; or, when it starts before the exact
    rows (exact_since), from the start of that hour, and to its end exactly when the end is past
    the hour the exact rows begin in (else to the end of the end's hour: the events of that hour
    before the exact rows began have only its hour row)."""
    since = exact_since()
    if start >= since:
        return start, end
    return floor_hour(start), (end if end > ceil_hour(since) else ceil_hour(end))


def cover(start: datetime, end: datetime, *, months: bool = True) -> list[Q]:
    """Conditions selecting rows that together count [start, end) exactly once (counted_window).

    A window that starts before the exact rows is counted in whole hours to the end of the hour
    they begin in, and exactly from there: its end is the window's own (rounding it up to the hour
    counted the events after it, a report to 20:43 counted those to 21:00), unless it falls inside
    that hour, whose events before the exact rows began (counted by a release without them, just
    before an upgrade) have only the hour's row: that hour is taken whole."""
    if start >= end:
        return []
    since = exact_since()
    if start < since:
        pivot = ceil_hour(since)
        if end <= pivot:
            return _whole(floor_hour(start), ceil_hour(end), months)
        return [*_whole(floor_hour(start), pivot, months), *_exact_cover(pivot, end, months)]
    return _exact_cover(start, end, months)


def _exact_cover(start: datetime, end: datetime, months: bool) -> list[Q]:
    """[start, end) where every event has its exact row: whole buckets inside, exact rows at the ends."""
    first, last = ceil_hour(start), floor_hour(end)
    if first >= last:  # no whole hour inside
        return [_span(Level.EXACT, start, end)]
    head = [_span(Level.EXACT, start, first)] if start < first else []
    tail = [_span(Level.EXACT, last, end)] if last < end else []
    return [*head, *_whole(first, last, months), *tail]


def _query(names: Iterable[str] | None, prefix: str | None, parts: list[Q]):
    if not parts:
        return Count.objects.none()
    condition = parts[0]
    for part in parts[1:]:
        condition |= part
    queryset = Count.objects.filter(condition).exclude(name=EXACT_SINCE)
    if names is not None:
        queryset = queryset.filter(name__in=list(names))
    if prefix is not None:
        queryset = queryset.filter(name__startswith=prefix)
    return queryset


def counter_totals(
    *, start: datetime, end: datetime, names: Iterable[str] | None = None, prefix: str | None = None
) -> dict[str, int]:
    """{name: count} of events in [start, end) (see counted_window)."""
    rows = _query(names, prefix, cover(start, end)).values("name").annotate(total=Sum("n")).values_list("name", "total")
    return {name: int(total) for name, total in rows if total}


def floor_week(at: datetime) -> datetime:
    day = floor_day(at)
    return day - timedelta(days=day.weekday())  # weeks start on Monday (ISO 8601), as date_trunc('week')


PERIOD_OF: dict[str, Callable[[datetime], datetime]] = {"day": floor_day, "week": floor_week, "month": floor_month}


def counter_series(
    *,
    start: datetime,
    end: datetime,
    period: str,
    names: Iterable[str] | None = None,
    prefix: str | None = None,
) -> dict[datetime, dict[str, int]]:
    """{period start: {name: count}} for periods of a "day", "week" or "month" (UTC).

    On PostgreSQL the buckets are summed per period in the database and come back as one JSON
    value (a few hundred numbers, not thousands of rows with timestamps to convert)."""
    queryset = _query(names, prefix, cover(start, end, months=period == "month"))
    series: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if connection.vendor == "postgresql":
        sql, params = queryset.values_list("start", "name", "n").query.sql_with_params()
        wrapped = (
            "SELECT coalesce(json_agg(json_build_array(p, name, n)), '[]')::text FROM ("  # noqa: S608 - ORM SQL
            "SELECT extract(epoch FROM date_trunc(%s, start AT TIME ZONE 'UTC'))::bigint AS p, name, sum(n) AS n "
            f"FROM ({sql}) AS buckets GROUP BY 1, 2) AS periods"
        )
        with connection.cursor() as cursor:
            cursor.execute(wrapped, [period, *params])
            rows = json.loads(cursor.fetchone()[0])
        starts: dict[int, datetime] = {}
        for epoch, name, n in rows:
            when = starts.get(epoch) or starts.setdefault(epoch, datetime.fromtimestamp(epoch, UTC))
            series[when][name] += int(n)
    else:
        period_of = PERIOD_OF[period]
        for bucket, name, n in queryset.values_list("start", "name", "n"):
            series[period_of(bucket)][name] += n
    return {when: dict(counts) for when, counts in series.items()}
