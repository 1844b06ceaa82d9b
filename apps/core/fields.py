"""Serializer fields that refuse what DRF's own would take and store wrong.

DRF's FloatField and IntegerField take `true` and `false` as 1 and 0 (Python's bool is an int),
so `{"lat": true}` stored a latitude of 1.0. A boolean where a number belongs is bad input: 400.

DRF's DateTimeField reads a time with no zone as the server's (UTC): a camera or reader whose clock
writes local time without an offset would have its evidence stored hours off, silently. The
contract's times are RFC 3339 with a zone, so a stored time without one is bad input: 400."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


NO_ZONE = "Must be a time with a zone (RFC 3339), e.g. 2026-11-30T15:58:33Z or 2026-11-30T10:58:33-05:00."


class ZonedDateTimeField(serializers.DateTimeField):
    default_error_messages = {"no_zone": NO_ZONE}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("no_zone")
        return super().enforce_timezone(value)
