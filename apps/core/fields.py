"""Serializer fields that refuse what DRF's own would take and store wrong.

DRF's FloatField and IntegerField take `true` and `false` as 1 and 0 (Python's bool is an int),
so `{"lat": true}` stored a latitude of 1.0. A boolean where a number belongs is bad input: 400.
Its CharField takes a number as text and its BooleanField "no" as false: a 400 here too. In a JSON
body a number or a boolean must be one (`"ttl_seconds": "60"` is a 400); a query string's or a
form's values are all text, and there "60" and "true" are read as what they say.

DRF's DateTimeField reads a time with no zone as the server's (UTC): a camera or reader whose clock
writes local time without an offset would have its evidence stored hours off, silently. The
contract's times are RFC 3339 with a zone, so a stored time without one is bad input: 400.

A time's year must also lie within TIME_YEARS: 0001-01-01T00:30:00+01:00 is year 0 in UTC, which
Python cannot hold, and times near year 9999 overflow the arithmetic done with them (a window
around a lead's event, the adapter's conversion to UTC): such a time is a 400, never a 500."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from django.utils import timezone
from rest_framework import serializers

from . import plates
from .parsers import JsonBody


def from_json_body(field: serializers.Field) -> bool:
    """Whether the field reads a JSON body (SafeJSONParser's JsonBody), where a value has its own
    JSON type, rather than a query string or a form, whose values are all text."""
    return isinstance(getattr(field.root, "initial_data", None), JsonBody)


class _NumberOnly(serializers.Field):
    """For a number field: never true or false, and in a JSON body a JSON number only (`"60"` is a
    400, never converted)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, str) and from_json_body(self)):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(_NumberOnly, serializers.FloatField):
    """A number (_NumberOnly)."""


class StrictIntegerField(_NumberOnly, serializers.IntegerField):
    """A whole number (_NumberOnly)."""


class _TextOnly(serializers.Field):
    """For a text field: text only. A number where a reason, a serial or a token belongs is a
    mistake, not something to coerce (DRF's CharField, and the RegexField and SlugField built on
    it, store `{"reason": 5}` as "5")."""

    default_error_messages = {"not_text": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


# Characters that show nothing: format characters (zero-width space, BOM, bidi marks), spaces of
# every width, separators, controls.
_INVISIBLE = frozenset({"Cf", "Zs", "Zl", "Zp", "Cc"})


def shows_nothing(text: str) -> bool:
    return all(unicodedata.category(char) in _INVISIBLE for char in text)


class StrictCharField(_TextOnly, serializers.CharField):
    """Text (_TextOnly). A field that may not be blank takes no text that shows nothing either: a
    required reason of zero-width characters ("\ufeff\u200b") was stored as the stated reason."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not self.allow_blank and value and shows_nothing(value):
            self.fail("blank")
        return value


class StrictRegexField(_TextOnly, serializers.RegexField):
    """Text matching a pattern (_TextOnly)."""


class StrictSlugField(_TextOnly, serializers.SlugField):
    """A slug (_TextOnly)."""


class StrictBooleanField(serializers.BooleanField):
    """true or false only (or the text "true"/"false" of a query or form field, never of a JSON
    body): DRF's BooleanField
    reads 1, 0, "yes", "no", "on" and "off" too, so `{"is_active": "no"}` deactivated an account."""

    default_error_messages = {"invalid": "Must be true or false."}
    TRUE_VALUES = {True, "true", "True", "TRUE"}
    FALSE_VALUES = {False, "false", "False", "FALSE"}
    NULL_VALUES = {None}

    def to_internal_value(self, data):
        if not isinstance(data, bool | str):  # 1 == True in Python: it would match a set member
            self.fail("invalid")
        if isinstance(data, str) and from_json_body(self):  # a JSON body says true or false itself
            self.fail("invalid")
        return super().to_internal_value(data)


NO_ZONE = "Must be a time with a zone (RFC 3339), e.g. 2026-11-30T15:58:33Z or 2026-11-30T10:58:33-05:00."

# The years a stored time may lie in (a lead's event may be decades old; nothing lies near 9999).
TIME_YEARS = (1900, 9000)
OUT_OF_RANGE = f"Must be a time between the years {TIME_YEARS[0]} and {TIME_YEARS[1]}."


def in_utc(value: datetime, *, years: tuple[int, int] = TIME_YEARS) -> datetime | None:
    """An aware time in UTC, or None when its year (in UTC) lies outside `years` (inclusive)."""
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        return None
    return value if years[0] <= value.year <= years[1] else None


def rfc3339_text(value: str) -> str:
    """RFC 3339 allows a lower-case `t` and `z` (its section 5.6); Python's parsers take only the
    upper-case `Z`."""
    return value[:-1] + "Z" if value.endswith("z") else value


class ZonedDateTimeField(serializers.DateTimeField):
    default_error_messages = {"no_zone": NO_ZONE, "out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value):
        return super().to_internal_value(rfc3339_text(value) if isinstance(value, str) else value)

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("no_zone")
        if in_utc(value) is None:
            self.fail("out_of_range")
        return super().enforce_timezone(value)


def plate_text(value: str) -> str:
    """A serializer's check of a plate (apps/core/plates.py): 400 when it is none."""
    if problem := plates.plate_problem(value):
        raise serializers.ValidationError(problem)
    return value


def state_text(value: str | None) -> str:
    """A serializer's check of a plate's state: the two-letter code in upper case, or ""."""
    state = plates.state_code(value or "")
    if problem := plates.state_problem(state):
        raise serializers.ValidationError(problem)
    return state
