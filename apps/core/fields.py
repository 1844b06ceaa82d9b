"""Serializer fields for numbers that refuse JSON booleans.

DRF's FloatField and IntegerField take `true` and `false` as 1 and 0 (Python's bool is an int),
so `{"lat": true}` stored a latitude of 1.0. A boolean where a number belongs is bad input: 400."""

from __future__ import annotations

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
