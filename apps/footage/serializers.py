"""Input and output shapes of the footage API (PROTOCOL.md "Clips")."""

from __future__ import annotations

import json
import re

from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from apps.core.fields import (
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    StrictRegexField,
    ZonedDateTimeField,
)

from .models import Category, Clip, Trigger

HEX64 = re.compile(r"^[0-9a-fA-F]{64}\Z")
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\Z")


class ClipOut(serializers.ModelSerializer):
    """The contract's clip, exactly: GET /clips, GET /clips/{id}, console `clip.update`."""

    category: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    incident = serializers.UUIDField(source="incident_id", read_only=True, allow_null=True)
    location = serializers.SerializerMethodField()

    class Meta:
        model = Clip
        fields = [
            "id",
            "device",
            "officer",
            "started_at",
            "ended_at",
            "duration_s",
            "size_bytes",
            "sha256",
            "state",
            "trigger",
            "category",
            "case_number",
            "incident",
            "legal_hold",
            "retain_until",
            "location",
        ]

    def get_location(self, obj) -> dict | None:
        return obj.location


def clip_payload(clip: Clip) -> dict:
    """ClipOut as plain JSON types (for the channel layer: the console's `clip.update`)."""
    return json.loads(JSONRenderer().render(ClipOut(clip).data))


class ClipUploadOut(ClipOut):
    """A clip as its device sees it while uploading: the contract's clip plus the upload plan."""

    class Meta(ClipOut.Meta):
        fields = [
            *ClipOut.Meta.fields,
            "recording_id",
            "content_type",
            "command_id",
            "part_size",
            "part_count",
            "created_at",
            "completed_at",
            "verified_at",
        ]


class CategoryOut(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name", "retention_days"]


class ClipLocationIn(serializers.Serializer):
    lat = StrictFloatField(min_value=-90, max_value=90)
    lon = StrictFloatField(min_value=-180, max_value=180)
    accuracy_m = StrictFloatField(min_value=0, max_value=100_000, required=False, allow_null=True)


class ClipDeclareIn(serializers.Serializer):
    recording_id = StrictRegexField(
        r"^[\x21-\x7e]{1,128}$", max_length=128, error_messages={"invalid": "Use 1 to 128 printable ASCII characters."}
    )
    started_at = ZonedDateTimeField()
    ended_at = ZonedDateTimeField()
    size_bytes = StrictIntegerField(min_value=1)
    sha256 = StrictRegexField(HEX64, error_messages={"invalid": "Must be 64 hexadecimal characters."})
    content_type = StrictCharField(max_length=100)
    trigger = serializers.ChoiceField(choices=Trigger.values)
    command_id = serializers.UUIDField(required=False, allow_null=True)
    location = ClipLocationIn(required=False, allow_null=True)

    def validate_sha256(self, value: str) -> str:
        return value.lower()

    def validate_content_type(self, value: str) -> str:
        value = value.strip().lower()
        if not MEDIA_TYPE.match(value):
            raise serializers.ValidationError("Not a media type such as video/mp4.")
        return value


class PartNumbersIn(serializers.Serializer):
    numbers = serializers.ListField(child=StrictIntegerField(min_value=1), allow_empty=False)
