"""Input and output shapes of the devices API (PROTOCOL.md "Devices")."""

from __future__ import annotations

from rest_framework import serializers

from . import conf
from .models import DeviceKind


class StrictCharField(serializers.CharField):
    """Text only: a number where a serial or a token belongs is a mistake, not something to coerce."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField, serializers.RegexField):
    pass


class LocationOut(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    accuracy_m = serializers.FloatField(allow_null=True)
    at = serializers.DateTimeField(source="location_at", allow_null=True)


class DeviceOut(serializers.Serializer):
    """A device as IT, operators and the device itself see it. Reads no related rows, so it is
    safe to use from async code (the console events) once presence is merged in."""

    id = serializers.UUIDField()
    kind = serializers.CharField()
    serial = serializers.CharField()
    model = serializers.CharField()
    label = serializers.CharField()
    firmware = serializers.CharField()
    officer = serializers.UUIDField(source="officer_id", allow_null=True)
    online = serializers.BooleanField()
    last_seen = serializers.DateTimeField(allow_null=True)
    recording = serializers.BooleanField()
    battery_pct = serializers.IntegerField(allow_null=True)
    storage_free_mb = serializers.IntegerField(allow_null=True)
    location = serializers.SerializerMethodField()
    revoked = serializers.BooleanField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    enrolled = serializers.SerializerMethodField()
    enrolled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_location(self, device) -> dict | None:
        if device.lat is None or device.lon is None:
            return None
        return LocationOut(device).data

    def get_enrolled(self, device) -> bool:
        return bool(device.token_hash)


class DeviceRegisteredOut(DeviceOut):
    """Registration's answer: the device plus its enrollment code, shown this once."""

    enrollment_code = serializers.CharField()
    enrollment_expires_at = serializers.DateTimeField()


class EnrollmentCodeOut(serializers.Serializer):
    enrollment_code = serializers.CharField()
    enrollment_expires_at = serializers.DateTimeField()


class DeviceCreateIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeviceKind.values)
    serial = StrictRegexField(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", max_length=64,
                                    error_messages={"invalid": "Use letters, digits and . _ : / - only."})
    model = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    label = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    firmware = StrictCharField(max_length=64, required=False, allow_blank=True, default="")


class EnrollIn(serializers.Serializer):
    serial = StrictCharField(max_length=64)
    code = StrictCharField(max_length=64)


class EnrollOut(serializers.Serializer):
    device_id = serializers.UUIDField()
    token = serializers.CharField()
    kind = serializers.CharField()


class AssignIn(serializers.Serializer):
    officer = serializers.UUIDField()


class DeviceFilterIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeviceKind.values, required=False)
    online = serializers.ChoiceField(choices=["true", "false"], required=False)
    officer = serializers.UUIDField(required=False)
    serial = serializers.CharField(max_length=64, required=False)

    def validate_online(self, value: str) -> bool:
        return value == "true"


class PushTokenIn(serializers.Serializer):
    token = StrictCharField(max_length=conf.PUSH_TOKEN_MAX, allow_blank=False, trim_whitespace=True)


class AssignmentOut(serializers.Serializer):
    officer = serializers.UUIDField(source="officer_id")
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    assigned_by = serializers.UUIDField(source="assigned_by_id", allow_null=True)
    ended_by = serializers.UUIDField(source="ended_by_id", allow_null=True)
