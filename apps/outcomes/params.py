"""Query parameters of the statistics and the report: a window (from, to) and an interval."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.core.errors import InvalidInput

MAX_SPAN = timedelta(days=366 * 20)


def _bad(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{name}: {message}", fields={name: [message]})


def parse_time(name: str, raw: str) -> datetime:
    raw = raw.strip()
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
    if not 1970 <= parsed.year <= 9000:
        raise _bad(name, "Must be a time between 1970 and 9000.")
    return parsed.astimezone(UTC)


def window(query_params, *, default: timedelta) -> tuple[datetime, datetime]:
    """(from, to): `to` defaults to now and `from` to `to` minus `default`; from must precede to."""
    to_raw, from_raw = query_params.get("to"), query_params.get("from")
    end = parse_time("to", to_raw) if to_raw is not None else timezone.now().astimezone(UTC)
    start = parse_time("from", from_raw) if from_raw is not None else end - default
    if start >= end:
        raise _bad("from", "Must be before to.")
    if end - start > MAX_SPAN:
        raise _bad("from", "A window is at most 20 years long.")
    return start, end


def choice(query_params, name: str, choices: tuple[str, ...], default: str) -> str:
    value = query_params.get(name, default)
    if value not in choices:
        raise _bad(name, f"Must be one of: {', '.join(choices)}.")
    return value
