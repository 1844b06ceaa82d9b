"""Input and output shapes of the devices API (PROTOCOL.md "Devices")."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.fields import StrictBooleanField, StrictCharField, StrictFloatField, StrictIntegerField
from apps.core.realtime import iso_time

from . import conf
from .models import DeviceKind


class StrictRegexField(StrictCharField, serializers.RegexField):
    pass


class DeviceLocationIn(serializers.Serializer):
    lat = StrictFloatField(min_value=-90, max_value=90)
    lon = StrictFloatField(min_value=-180, max_value=180)


class LocationOut(serializers.Serializer):
    lat = StrictFloatField()
    lon = StrictFloatField()
    accuracy_m = StrictFloatField(allow_null=True)
    at = serializers.DateTimeField(source="location_at", allow_null=True)


def _number(value, kind):
    return None if value is None else kind(value)


def device_payload(device) -> dict:
    """A device as the API and the console show it. Plain code rather than field by field: the
    presence path builds one per console event, so it must be cheap; reads no related rows."""
    location = None
    if device.lat is not None and device.lon is not None:
        location = {
            "lat": float(device.lat),
            "lon": float(device.lon),
            "accuracy_m": _number(device.accuracy_m, float),
            "at": iso_time(device.location_at),
        }
    return {
        "id": str(device.pk),
        "kind": device.kind,
        "serial": device.serial,
        "model": device.model,
        "label": device.label,
        "firmware": device.firmware,
        "officer": None if device.officer_id is None else str(device.officer_id),
        "online": bool(device.online),
        "last_seen": iso_time(device.last_seen),
        "recording": bool(device.recording),
        "battery_pct": _number(device.battery_pct, int),
        "storage_free_mb": _number(device.storage_free_mb, int),
        "location": location,
        "revoked": device.revoked_at is not None,
        "revoked_at": iso_time(device.revoked_at),
        "enrolled": bool(device.token_hash),
        "enrolled_at": iso_time(device.enrolled_at),
        "created_at": iso_time(device.created_at),
        "replaces": None if device.replaces_id is None else str(device.replaces_id),
    }


class DeviceOut(serializers.Serializer):
    """A device as IT, operators and the device itself see it (the fields document the schema;
    `device_payload` writes them)."""

    id = serializers.UUIDField()
    kind = StrictCharField()
    serial = StrictCharField()
    model = StrictCharField()
    # DRF takes declared fields off the class, so "label" does not clash with Field.label (the stubs think it does).
    label = StrictCharField()  # type: ignore[assignment]
    firmware = StrictCharField()
    officer = serializers.UUIDField(source="officer_id", allow_null=True)
    online = StrictBooleanField()
    last_seen = serializers.DateTimeField(allow_null=True)
    recording = StrictBooleanField()
    battery_pct = StrictIntegerField(allow_null=True)
    storage_free_mb = StrictIntegerField(allow_null=True)
    location = LocationOut(allow_null=True)
    revoked = StrictBooleanField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    enrolled = StrictBooleanField()
    enrolled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    # the revoked device (same kind and serial) this one was registered to take over from
    replaces = serializers.UUIDField(source="replaces_id", allow_null=True, read_only=True)

    def to_representation(self, instance) -> dict:
        return device_payload(instance)


class DeviceRegisteredOut(DeviceOut):
    """Registration's answer: the device plus its enrollment code, shown this once."""

    enrollment_code = StrictCharField()
    enrollment_expires_at = serializers.DateTimeField()

    def to_representation(self, instance) -> dict:
        return {
            **device_payload(instance),
            "enrollment_code": self.context["enrollment_code"],
            "enrollment_expires_at": iso_time(instance.enrollment_expires_at),
        }


class EnrollmentCodeOut(serializers.Serializer):
    enrollment_code = StrictCharField()
    enrollment_expires_at = serializers.DateTimeField()


class DeviceCreateIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeviceKind.values)
    # as printed on the device: any visible characters (and inner spaces), no control characters
    serial = StrictRegexField(
        r"^[^\x00-\x1f\x7f]+$", max_length=64, error_messages={"invalid": "A serial has no control characters."}
    )
    model = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    label = StrictCharField(max_length=64, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    firmware = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    # a fixed plate reader's place (any kind may give one; it is the device's last known location)
    location = DeviceLocationIn(required=False, allow_null=True, default=None)


class EnrollIn(serializers.Serializer):
    serial = StrictCharField(max_length=64)
    code = StrictCharField(max_length=64)


class EnrollOut(serializers.Serializer):
    device_id = serializers.UUIDField()
    token = StrictCharField()
    kind = StrictCharField()


class AssignIn(serializers.Serializer):
    officer = serializers.UUIDField()


class DeviceFilterIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeviceKind.values, required=False)
    online = serializers.ChoiceField(choices=["true", "false"], required=False)
    officer = serializers.UUIDField(required=False)
    serial = StrictCharField(max_length=64, required=False)

    def validate_online(self, value: str) -> bool:
        return value == "true"


class PushTokenIn(serializers.Serializer):
    # An FCM registration token is printable ASCII without spaces: a control character in one could
    # only make every push to the phone fail at FCM.
    token = StrictRegexField(
        r"^[\x21-\x7e]+$",
        max_length=conf.PUSH_TOKEN_MAX,
        trim_whitespace=True,
        error_messages={"invalid": "A push token is printable ASCII without spaces."},
    )


class AssignmentOut(serializers.Serializer):
    officer = serializers.UUIDField(source="officer_id")
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    assigned_by = serializers.UUIDField(source="assigned_by_id", allow_null=True)
    ended_by = serializers.UUIDField(source="ended_by_id", allow_null=True)
