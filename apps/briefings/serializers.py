"""Input and output shapes of the briefings API."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    plate_text,
    state_text,
)
from apps.core.realtime import iso_time

from .models import DeliveryState, Incident


class LocationIn(serializers.Serializer):
    lat = StrictFloatField(min_value=-90, max_value=90)
    lon = StrictFloatField(min_value=-180, max_value=180)


class IncidentCreateIn(serializers.Serializer):
    title = StrictCharField(max_length=200)
    location = LocationIn()
    radius_m = StrictFloatField(min_value=1, max_value=100_000, required=False)
    case_number = StrictCharField(max_length=64, required=False, allow_blank=True, default="")


class OfficerIdsIn(serializers.Serializer):
    officers = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=10_000)


class IncidentOut(serializers.ModelSerializer):
    location = serializers.SerializerMethodField()
    officers = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = ["id", "title", "location", "radius_m", "case_number", "created_by", "created_at", "officers"]

    def get_location(self, obj) -> dict:
        return {"lat": obj.lat, "lon": obj.lon}

    def get_officers(self, obj) -> list[str]:
        return [str(a.officer_id) for a in obj.assignments.all()]


class MediaUploadIn(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)


class SuspectIn(serializers.Serializer):
    description = StrictCharField(max_length=500)
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    sex = StrictCharField(max_length=32, required=False, allow_blank=True)
    height = StrictCharField(max_length=32, required=False, allow_blank=True)
    clothing = StrictCharField(max_length=300, required=False, allow_blank=True)
    armed = StrictBooleanField(required=False)
    photo = serializers.UUIDField(required=False, allow_null=True)


class VehicleIn(serializers.Serializer):
    plate = StrictCharField(max_length=16)
    plate_state = StrictCharField(max_length=32, required=False, allow_blank=True)
    make = StrictCharField(max_length=64, required=False, allow_blank=True)
    model = StrictCharField(max_length=64, required=False, allow_blank=True)
    color = StrictCharField(max_length=32, required=False, allow_blank=True)
    year = StrictIntegerField(min_value=1886, max_value=2100, required=False, allow_null=True)
    direction = StrictCharField(max_length=64, required=False, allow_blank=True)
    photo = serializers.UUIDField(required=False, allow_null=True)

    def validate_plate(self, value: str) -> str:
        return plate_text(value)

    def validate_plate_state(self, value: str) -> str:
        return state_text(value)


class NearIn(serializers.Serializer):
    lat = StrictFloatField(min_value=-90, max_value=90)
    lon = StrictFloatField(min_value=-180, max_value=180)
    radius_m = StrictFloatField(min_value=1, max_value=100_000)


class AudienceIn(serializers.Serializer):
    """Exactly one of {"officers": [ids]}, {"incident": true}, {"near": {"lat", "lon", "radius_m"}}."""

    officers = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=False, max_length=50_000, required=False
    )
    incident = StrictBooleanField(required=False)
    near = NearIn(required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - {"officers", "incident", "near"}
            if unknown:
                raise serializers.ValidationError(f"Unknown audience keys: {', '.join(sorted(unknown))}.")
        return super().to_internal_value(data)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError('Give exactly one of "officers", "incident" or "near".')
        if "incident" in attrs and attrs["incident"] is not True:
            raise serializers.ValidationError({"incident": ['Must be true ("the incident\'s officers").']})
        if "officers" in attrs:
            attrs["officers"] = [str(i) for i in attrs["officers"]]
        return attrs


class BriefingAudienceIn(serializers.Serializer):
    incident = serializers.UUIDField(required=False, allow_null=True)
    audience = AudienceIn()


class BriefingCreateIn(BriefingAudienceIn):
    priority = serializers.ChoiceField(choices=["routine", "urgent", "emergency"])
    title = StrictCharField(max_length=200)
    body = StrictCharField(max_length=4000, required=False, allow_blank=True, default="")
    suspects: serializers.ListSerializer = serializers.ListSerializer(
        child=SuspectIn(), required=False, default=list, max_length=50
    )
    vehicles: serializers.ListSerializer = serializers.ListSerializer(
        child=VehicleIn(), required=False, default=list, max_length=50
    )


def _with_photo_urls(items: list[dict], request) -> list[dict]:
    from .media import image_path, thumbnail_path

    out = []
    for item in items:
        item = dict(item)
        if item.get("photo") and request is not None:
            item["photo_url"] = request.build_absolute_uri(image_path(item["photo"]))
            item["thumbnail_url"] = request.build_absolute_uri(thumbnail_path(item["photo"]))
        out.append(item)
    return out


class BriefingOut(serializers.Serializer):
    """A briefing; `deliveries` (counts by state), `mine` (the recipient's own state) and what it
    was made from (`lead`, `hit`: origins.py) when given in the context as
    {"counts": {briefing_id: {...}}, "mine": {briefing_id: {...}}, "origins": {briefing_id: {...}}}."""

    id = serializers.UUIDField()
    incident = serializers.UUIDField(source="incident_id", allow_null=True)
    priority = StrictCharField()
    title = StrictCharField()
    body = StrictCharField()
    notice = StrictCharField()
    suspects = serializers.SerializerMethodField()
    vehicles = serializers.SerializerMethodField()
    audience = serializers.JSONField()
    recipients = StrictIntegerField()
    phones = StrictIntegerField()
    officers_without_phone = StrictIntegerField()
    created_by = serializers.UUIDField(source="created_by_id", allow_null=True)
    created_at = serializers.DateTimeField()

    def get_suspects(self, obj) -> list[dict]:
        return _with_photo_urls(obj.suspects, self.context.get("request"))

    def get_vehicles(self, obj) -> list[dict]:
        return _with_photo_urls(obj.vehicles, self.context.get("request"))

    def to_representation(self, instance):
        data = super().to_representation(instance)
        counts = self.context.get("counts", {}).get(instance.pk)
        if counts is not None:
            data["deliveries"] = counts
        data.update(self.context.get("origins", {}).get(instance.pk, {}))  # origins.py: operators only
        reader = self.context.get("reader_officer")  # an officer (or their phone) reads it
        if reader is not None and isinstance(data.get("audience"), dict) and "officers" in data["audience"]:
            data["audience"] = {"officers": [str(reader)]}  # that they were named, not who else was
        mine = self.context.get("mine", {}).get(instance.pk)
        if mine is not None:
            data["delivery_state"] = mine["state"]
            data["acknowledged_at"] = (
                serializers.DateTimeField().to_representation(mine["acknowledged_at"])
                if mine["acknowledged_at"]
                else None
            )
        return data


# The Delivery columns delivery_payload reads (a .values() / RETURNING row has these keys).
DELIVERY_PAYLOAD_FIELDS = (
    "id",
    "briefing_id",
    "officer_id",
    "device_id",
    "state",
    "attempts",
    "sent_at",
    "acknowledged_at",
    "error",
    "updated_at",
)


def delivery_payload(row) -> dict:
    """DeliveryOut's representation, from a Delivery or a dict of DELIVERY_PAYLOAD_FIELDS, built
    without a serializer per row: a push batch announces thousands."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    device = get("device_id")
    return {
        "id": str(get("id")),
        "briefing": str(get("briefing_id")),
        "officer": str(get("officer_id")),
        "device": str(device) if device else None,
        "state": get("state"),
        "attempts": get("attempts"),
        "sent_at": iso_time(get("sent_at")),
        "acknowledged_at": iso_time(get("acknowledged_at")),
        "error": get("error") or None,
        "updated_at": iso_time(get("updated_at")),
    }


class DeliveryOut(serializers.Serializer):
    """One delivery (GET /briefings/{id}/deliveries and the console's `delivery.update`): the
    fields document the schema, `delivery_payload` writes them."""

    id = serializers.UUIDField()
    briefing = serializers.UUIDField(source="briefing_id")
    officer = serializers.UUIDField(source="officer_id")
    device = serializers.UUIDField(source="device_id", allow_null=True)
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    attempts = StrictIntegerField()
    sent_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    error = StrictCharField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance) -> dict:
        return delivery_payload(instance)


class MediaOut(serializers.Serializer):
    id = serializers.UUIDField()
    width = StrictIntegerField()
    height = StrictIntegerField()
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    thumbnail_width = StrictIntegerField()
    thumbnail_height = StrictIntegerField()
    created_at = serializers.DateTimeField()

    def get_url(self, obj) -> str:
        from .media import image_path

        return self.context["request"].build_absolute_uri(image_path(obj.pk))

    def get_thumbnail_url(self, obj) -> str:
        from .media import thumbnail_path

        return self.context["request"].build_absolute_uri(thumbnail_path(obj.pk))
