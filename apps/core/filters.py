"""Query-string filters of list endpoints as DRF serializers: `ThingFilterIn(data=request.query_params)`,
`is_valid(raise_exception=True)`, then `validated_data` to the selector (HackSoft's FilterSerializer).

`QueryFilterIn` adds what a query string needs beyond a body: an unknown parameter is refused by
name (never silently ignored), a blank value counts as not given, and of a repeated parameter the
last value counts. The fields below parse what query strings carry: comma-separated choices,
true/false, and times in RFC 3339 with a zone (or a bare date)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.fields import OUT_OF_RANGE, in_utc, rfc3339_text

PAGE_PARAMS = frozenset({"page", "page_size"})
# Read by the content negotiation on every endpoint (apps/core/negotiation.py: a format it cannot
# give is refused there), so never a parameter the endpoint does not read.
FORMAT_PARAM = "format"
UNKNOWN_PARAM = "Not a filter of this list."
NOT_A_PARAMETER = "Not a parameter of this endpoint."


def refuse_unknown_params(
    given: Iterable[str], accepted: Iterable[str], message: str = UNKNOWN_PARAM, *, paged: bool = True
) -> None:
    """A query parameter the endpoint does not read is the caller's mistake (a typo): 400 naming
    it, never silently ignored. The page parameters are accepted where there are pages (`paged`),
    `format` everywhere."""
    unknown = sorted(set(given) - set(accepted) - (PAGE_PARAMS if paged else frozenset()) - {FORMAT_PARAM})
    if unknown:
        raise serializers.ValidationError({name: [message] for name in unknown})


def list_params(view: Any) -> frozenset[str]:
    """What a list view reads from the query string besides the page: the fields of its
    `list_filters` serializer and any `list_params` it names (the paginator refuses the rest)."""
    filters = getattr(view, "list_filters", None)
    names = set(getattr(view, "list_params", ()))
    if filters is not None:
        names |= set(filters().fields) | set(getattr(filters, "passthrough", ()))
    return frozenset(names)


class QueryFilterIn(serializers.Serializer):
    """Base of a list endpoint's filter serializer; `passthrough` names parameters read elsewhere
    (the paginator's)."""

    passthrough: frozenset[str] = PAGE_PARAMS
    unknown_message = UNKNOWN_PARAM

    def to_internal_value(self, data: Any) -> Any:
        # The page parameters only where `passthrough` names them: an endpoint of one answer refuses them
        refuse_unknown_params(data, set(self.fields) | self.passthrough, self.unknown_message, paged=False)
        given = {}
        for name in self.fields:
            value = data.get(name) if name in data else None  # a QueryDict's last value
            if isinstance(value, str):
                value = value.strip()
            if value not in (None, ""):
                given[name] = value
        return super().to_internal_value(given)


@extend_schema_field(OpenApiTypes.STR)
class CommaSeparatedField(serializers.Field):
    """`a,b,c` -> ["a", "b", "c"] (blanks dropped), each one of `choices` when given."""

    default_error_messages = {
        "invalid": "Must be one of {choices} (comma-separated for several).",
        "empty": "Give at least one value.",
    }

    def __init__(self, *, choices: list[str] | None = None, **kwargs: Any) -> None:
        self.choices = list(choices) if choices is not None else None
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        chosen = [v.strip() for v in str(data).split(",") if v.strip()]
        if self.choices is not None and (not chosen or any(v not in self.choices for v in chosen)):
            self.fail("invalid", choices=", ".join(self.choices))
        if not chosen:
            self.fail("empty")
        return chosen

    def to_representation(self, value: Any) -> str:
        return ",".join(value)


@extend_schema_field(OpenApiTypes.BOOL)
class TrueFalseField(serializers.Field):
    """Exactly `true` or `false` (any case): a query string's yes/no, nothing looser."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        value = str(data).strip().lower()
        if value not in {"true", "false"}:
            self.fail("invalid")
        return value == "true"

    def to_representation(self, value: Any) -> str:
        return "true" if value else "false"


TIME_PARAM_FORM = "Must be a time in RFC 3339 form, e.g. 2025-01-31T14:00:00Z (or a date, 2025-01-31)."
NO_ZONE_PARAM = "Must be a time with a zone, e.g. 2025-01-31T14:00:00Z or 2025-01-31T09:00:00-05:00 (or a date)."


def parse_time_param(raw: str) -> datetime:
    """A query string's time in UTC: RFC 3339 with a zone, or a bare date (its midnight, UTC); a
    time without a zone is refused, as in a body (fields.NO_ZONE). An unencoded `+02:00` offset
    arrives as ` 02:00` and is read as meant. A ValueError carries the message for the caller when
    it is not a time, or lies outside fields.TIME_YEARS."""
    raw = rfc3339_text(raw.strip())
    if "T" in raw and " " in raw:
        raw = raw.replace(" ", "+")
    try:
        parsed = parse_datetime(raw)
        if parsed is None and len(raw) == 10:
            day = parse_date(raw)
            parsed = datetime.combine(day, time.min) if day else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(TIME_PARAM_FORM)
    if parsed.tzinfo is None and len(raw) != 10:  # a clock's local time read as UTC: hours off
        raise ValueError(NO_ZONE_PARAM)
    in_range = in_utc(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC))
    if in_range is None:
        raise ValueError(OUT_OF_RANGE)
    return in_range


@extend_schema_field(OpenApiTypes.DATETIME)
class TimeParamField(serializers.Field):
    """A time for a filter (`parse_time_param`), in UTC."""

    default_error_messages = {"invalid": TIME_PARAM_FORM}

    def to_internal_value(self, data: Any) -> datetime:
        try:
            return parse_time_param(str(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None

    def to_representation(self, value: Any) -> str:
        return value.isoformat()


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberParamField(serializers.CharField):
    """A number as given, for `validate()` to check with the parameters it goes with (see `finite_number`)."""


def finite_number(value: Any, *, low: float, high: float) -> float:
    """A number within [low, high] (never NaN or infinite), or a ValidationError with the message."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise serializers.ValidationError("Must be a number.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise serializers.ValidationError(f"Must be between {low:g} and {high:g}.")
    return number
