"""Input shapes of the plate-reader API (output shapes are in payloads.py)."""

from __future__ import annotations

from rest_framework import serializers

from apps.core import plates
from apps.core.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    ZonedDateTimeField,
    plate_text,
    state_text,
)
from apps.core.filters import TimeParamField

from . import conf
from .models import RejectReason, Source


class ReadLocationIn(serializers.Serializer):
    lat = StrictFloatField(min_value=-90, max_value=90)
    lon = StrictFloatField(min_value=-180, max_value=180)


class PlateCandidateIn(serializers.Serializer):
    plate = StrictCharField(max_length=32)
    confidence = StrictFloatField(min_value=0, max_value=1, required=False, allow_null=True)

    def validate_plate(self, value: str) -> str:
        if not plates.normalize(value) or len(plates.normalize(value)) > plates.PLATE_MAX:
            raise serializers.ValidationError("Not a plate: 1 to 16 letters and digits.")
        return value


class PlateVehicleIn(serializers.Serializer):
    make = StrictCharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    model = StrictCharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    color = StrictCharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    type = StrictCharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    year = StrictIntegerField(min_value=1886, max_value=2100, required=False, allow_null=True)


class ReadIn(serializers.Serializer):
    read_id = StrictCharField(max_length=64)
    plate = StrictCharField(max_length=32)
    plate_state = StrictCharField(max_length=8, required=False, allow_blank=True, allow_null=True)
    confidence = StrictFloatField(min_value=0, max_value=1, required=False, allow_null=True)
    read_at = serializers.DateTimeField()
    location = ReadLocationIn(required=False, allow_null=True)
    heading = StrictFloatField(min_value=0, max_value=360, required=False, allow_null=True)
    candidates = serializers.ListField(child=PlateCandidateIn(), required=False, max_length=20)
    vehicle = PlateVehicleIn(required=False, allow_null=True)
    image = StrictCharField(required=False, allow_blank=True, allow_null=True, trim_whitespace=False)

    def validate_plate(self, value: str) -> str:
        return plate_text(value)

    def validate_plate_state(self, value):
        return state_text(value)

    def validate_read_at(self, value):
        from django.utils import timezone

        if value > timezone.now() + conf.future_skew():
            raise serializers.ValidationError("read_at is in the future.")
        return value


class ReadBatchIn(serializers.Serializer):
    reads = serializers.ListField(child=ReadIn(), allow_empty=False, max_length=500, min_length=1)


class SearchIn(serializers.Serializer):
    plate = StrictCharField(max_length=40, required=False, allow_blank=True)
    # `from` is a keyword: mapped in the view
    start = TimeParamField(required=False)
    end = TimeParamField(required=False)
    near = StrictCharField(max_length=80, required=False)
    reason = StrictCharField(max_length=500)
    case_number = StrictCharField(max_length=64)

    def validate_plate(self, value: str) -> str:
        pattern = plates.normalize_pattern(value)
        if value and not pattern:
            raise serializers.ValidationError("No letters, digits or wildcards in this plate.")
        return pattern

    def validate_near(self, value: str):
        parts = value.split(",")
        try:
            lat, lon, radius = (float(p) for p in parts)
        except ValueError:
            raise serializers.ValidationError("Give near=lat,lon,radius_m.") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius <= 500_000):
            raise serializers.ValidationError("lat -90..90, lon -180..180, radius_m more than 0 and at most 500000.")
        return (lat, lon, radius)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"from": ["Must be before `to` (a bare date is its midnight, UTC)."]})
        return attrs


class HotlistIn(serializers.Serializer):
    name = StrictCharField(max_length=120)
    source = serializers.ChoiceField(choices=Source.values)  # type: ignore[assignment]
    priority = StrictIntegerField(min_value=0, max_value=100, required=False, default=50)


class EntryIn(serializers.Serializer):
    plate = StrictCharField(max_length=32)
    plate_state = StrictCharField(max_length=8, required=False, allow_blank=True, allow_null=True)
    reason = StrictCharField(max_length=200)
    case_number = StrictCharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    expires_at = ZonedDateTimeField(required=False, allow_null=True)
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    vehicle = PlateVehicleIn(required=False, allow_null=True)

    def validate_plate_state(self, value):
        return state_text(value)


class ImportIn(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    mode = serializers.ChoiceField(choices=["append", "replace"], required=False, default="append")


class HitFilterIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=["new", "confirmed", "rejected"], required=False)
    hotlist = serializers.UUIDField(required=False)


class ConfirmIn(serializers.Serializer):
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class RejectIn(serializers.Serializer):
    reason = serializers.ChoiceField(choices=RejectReason.values)
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class BriefAudienceIn(serializers.Serializer):
    """A hit's brief preview: the audience, if not the default (officers near the read)."""

    audience = serializers.JSONField(required=False)

    def validate_audience(self, value):
        from apps.briefings.serializers import AudienceIn

        audience = AudienceIn(data=value)
        audience.is_valid(raise_exception=True)
        return dict(audience.validated_data)


class BriefIn(BriefAudienceIn):
    priority = serializers.ChoiceField(choices=["routine", "urgent", "emergency"])
    body = StrictCharField(max_length=3000, required=False, allow_blank=True, default="")


# Output shapes: they document the API (OpenAPI) and the `hit.new` / `hit.update` console events;
# payloads.py writes them (tests check that every payload conforms).


class ReadLocationOut(serializers.Serializer):
    lat = StrictFloatField()
    lon = StrictFloatField()


class CandidateOut(serializers.Serializer):
    plate = StrictCharField()
    plate_normalized = StrictCharField()
    confidence = StrictFloatField(allow_null=True)


class ReadOut(serializers.Serializer):
    id = serializers.UUIDField()
    reader = serializers.UUIDField()
    read_id = StrictCharField()
    plate = StrictCharField()
    plate_normalized = StrictCharField()
    plate_state = StrictCharField(allow_null=True)
    confidence = StrictFloatField(allow_null=True)
    read_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    location = ReadLocationOut(allow_null=True)
    heading = StrictFloatField(allow_null=True)
    candidates = CandidateOut(many=True)
    vehicle = serializers.DictField()
    image_url = StrictCharField(allow_null=True)  # absolute in API answers; a path in console events
    image_sha256 = StrictCharField(allow_null=True)
    hits = serializers.ListField(child=serializers.UUIDField())


class EntryOut(serializers.Serializer):
    id = serializers.UUIDField()
    hotlist = serializers.UUIDField()
    plate = StrictCharField()
    plate_normalized = StrictCharField()
    plate_state = StrictCharField(allow_null=True)
    reason = StrictCharField()
    case_number = StrictCharField(allow_blank=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    note = StrictCharField(allow_blank=True)
    vehicle = serializers.DictField()
    created_by = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    removed_at = serializers.DateTimeField(allow_null=True)


class HotlistOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = StrictCharField()
    source = StrictCharField()  # type: ignore[assignment]
    priority = StrictIntegerField()
    entry_count = StrictIntegerField()
    updated_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    last_import_at = serializers.DateTimeField(allow_null=True)
    stale = StrictBooleanField()


class HotlistSummaryOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = StrictCharField()
    source = StrictCharField()  # type: ignore[assignment]
    priority = StrictIntegerField()


class HitOut(serializers.Serializer):
    id = serializers.UUIDField()
    read = ReadOut()
    entry = EntryOut()
    hotlist = HotlistSummaryOut()
    match = StrictCharField()
    historical = StrictBooleanField()
    state = StrictCharField()
    created_at = serializers.DateTimeField()
    reviewed_by = serializers.UUIDField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reject_reason = StrictCharField(allow_null=True)
    note = StrictCharField(allow_blank=True)
    briefing = serializers.UUIDField(allow_null=True)


class IngestOut(serializers.Serializer):
    accepted = StrictIntegerField()
    duplicates = StrictIntegerField()
    hits = serializers.ListField(child=serializers.UUIDField())


class ImportOut(serializers.Serializer):
    imported = StrictIntegerField()
    rejected = serializers.ListField(child=serializers.DictField())
