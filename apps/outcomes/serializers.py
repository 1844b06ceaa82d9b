"""Input and output shapes of assists, statistics and the transparency report."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.settings import api_settings

from apps.core.fields import StrictCharField, ZonedDateTimeField
from apps.core.realtime import iso_time

from .models import OUTCOME_CODES, TOOLS


class AssistIn(serializers.Serializer):
    outcomes = serializers.ListField(
        child=serializers.ChoiceField(choices=OUTCOME_CODES), allow_empty=False, max_length=len(OUTCOME_CODES) * 2
    )
    tools = serializers.ListField(child=serializers.ChoiceField(choices=TOOLS), required=False, max_length=20)
    case_number = StrictCharField(max_length=64, required=False, allow_blank=True)
    incident = serializers.UUIDField(required=False, allow_null=True)
    officer = serializers.UUIDField(required=False, allow_null=True)
    notes = StrictCharField(max_length=4000, required=False, allow_blank=True)
    occurred_at = ZonedDateTimeField(required=False)
    # what it came from (a confirmed suggestion): a briefing, a lead, a plate hit
    briefing = serializers.UUIDField(required=False, allow_null=True)
    lead = serializers.UUIDField(required=False, allow_null=True)
    hit = serializers.UUIDField(required=False, allow_null=True)


class AssistPatchIn(AssistIn):
    """The same fields, each optional; the links (briefing, lead, hit) are set once, at creation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            fixed = {"briefing", "lead", "hit"} & set(data)
            if fixed:
                raise serializers.ValidationError({name: ["Set when the assist is logged."] for name in fixed})
            # As a user's or a clip's PATCH: a misspelt field is not silently a 200 that changed nothing.
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Not a field that can be changed."] for name in unknown})
            if not data:
                raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: ["Nothing to change."]})
        return super().to_internal_value(data)


class AssistOut(serializers.Serializer):
    id = serializers.UUIDField()
    outcomes = serializers.JSONField()
    tools = serializers.JSONField()
    case_number = StrictCharField()
    incident = serializers.UUIDField(source="incident_id", allow_null=True)
    officer = serializers.UUIDField(source="officer_id", allow_null=True)
    notes = StrictCharField()
    occurred_at = serializers.DateTimeField()
    created_by = serializers.UUIDField(source="created_by_id")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    briefing = serializers.UUIDField(source="briefing_id", allow_null=True)
    lead = serializers.UUIDField(source="lead_id", allow_null=True)
    hit = serializers.UUIDField(allow_null=True)


class SuggestionOut(serializers.Serializer):
    briefing = serializers.SerializerMethodField()
    lead = serializers.SerializerMethodField()
    hit = serializers.UUIDField(allow_null=True)
    outcomes = serializers.ListField(child=StrictCharField())
    tools = serializers.ListField(child=StrictCharField())
    case_number = StrictCharField()
    incident = serializers.UUIDField(allow_null=True)

    def get_briefing(self, obj) -> dict:
        b = obj["briefing"]
        return {"id": str(b.pk), "title": b.title, "priority": b.priority, "created_at": iso_time(b.created_at)}

    def get_lead(self, obj) -> str | None:
        return str(obj["lead"].pk) if obj["lead"] is not None else None
