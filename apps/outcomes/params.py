"""Query parameters of the statistics and the report: a window (from, to) and an interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from apps.core.errors import InvalidInput
from apps.core.filters import parse_time_param

MAX_SPAN = timedelta(days=366 * 20)


def _bad(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{name}: {message}", fields={name: [message]})


def parse_time(name: str, raw: str) -> datetime:
    try:
        return parse_time_param(raw)
    except ValueError as exc:
        raise _bad(name, str(exc)) from None


SAME_DAY = "Must be before to: a bare date is its midnight (UTC), so one day is from=D&to=the next day."


def window(query_params, *, default: timedelta) -> tuple[datetime, datetime]:
    """(from, to): `to` defaults to now and `from` to `to` minus `default`; from must precede to."""
    to_raw, from_raw = query_params.get("to"), query_params.get("from")
    end = parse_time("to", to_raw) if to_raw is not None else timezone.now().astimezone(UTC)
    start = parse_time("from", from_raw) if from_raw is not None else end - default
    if start >= end:
        raise _bad("from", SAME_DAY if from_raw == to_raw and len(from_raw or "") == 10 else "Must be before to.")
    if end - start > MAX_SPAN:
        raise _bad("from", "A window is at most 20 years long.")
    return start, end


def choice(query_params, name: str, choices: tuple[str, ...], default: str) -> str:
    value = query_params.get(name, default)
    if value not in choices:
        raise _bad(name, f"Must be one of: {', '.join(choices)}.")
    return value
