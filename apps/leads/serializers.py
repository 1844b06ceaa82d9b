"""Input and output shapes of the leads API (PROTOCOL.md "Leads")."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from apps.briefings.serializers import AudienceIn
from apps.core.fields import StrictCharField, StrictFloatField, StrictIntegerField, ZonedDateTimeField
from apps.core.filters import NOT_A_PARAMETER, QueryFilterIn

from .models import Kind, State
from .selectors import events_out, review_overdue


class LeadCandidateIn(serializers.Serializer):
    rank = StrictIntegerField(min_value=1, max_value=10_000)
    score = StrictFloatField(required=False, allow_null=True)
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    record_id = StrictCharField(max_length=100, required=False, allow_blank=True)
    photo = serializers.UUIDField(required=False, allow_null=True)


class EventLocationIn(serializers.Serializer):
    lat = StrictFloatField(min_value=-90, max_value=90)
    lon = StrictFloatField(min_value=-180, max_value=180)


class ItemIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["casing", "bullet", "firearm"])
    calibre = StrictCharField(max_length=40, required=False, allow_blank=True)
    serial = StrictCharField(max_length=64, required=False, allow_blank=True)


FUTURE_SKEW = timedelta(minutes=5)  # a clock a little ahead is not a future event


class EventIn(serializers.Serializer):
    case_number = StrictCharField(max_length=64)
    occurred_at = ZonedDateTimeField()
    location = EventLocationIn()
    items: serializers.ListSerializer = serializers.ListSerializer(child=ItemIn(), required=False, max_length=100)

    def validate_occurred_at(self, value):
        if value > timezone.now() + FUTURE_SKEW:
            raise serializers.ValidationError("Is in the future: an event linked by NIBIN has happened.")
        return value


class LeadCreateIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.values)
    case_number = StrictCharField(max_length=64)
    summary = StrictCharField(max_length=4000)
    incident = serializers.UUIDField(required=False, allow_null=True)
    probe_media = serializers.UUIDField(required=False, allow_null=True)
    search_system = StrictCharField(max_length=200, required=False, allow_blank=True)
    search_system_version = StrictCharField(max_length=100, required=False, allow_blank=True)
    candidates: serializers.ListSerializer = serializers.ListSerializer(
        child=LeadCandidateIn(), required=False, max_length=1000
    )
    nibin_lead_number = StrictCharField(max_length=64, required=False, allow_blank=True)
    events: serializers.ListSerializer = serializers.ListSerializer(child=EventIn(), required=False, max_length=100)

    def validate(self, attrs):
        kind, errors = attrs["kind"], {}
        if kind == Kind.FACIAL_RECOGNITION:
            for name in ("probe_media", "search_system"):
                if not attrs.get(name):
                    errors[name] = ["Required for a facial recognition lead."]
            if attrs.get("candidates") is None:
                errors["candidates"] = ["Required for a facial recognition lead (an empty list: no result)."]
        elif kind == Kind.NIBIN:
            if not attrs.get("nibin_lead_number"):
                errors["nibin_lead_number"] = ["Required for a NIBIN lead."]
            if len(attrs.get("events") or []) < 2:
                errors["events"] = ["A NIBIN lead links at least two events."]
        ranks = [c["rank"] for c in attrs.get("candidates") or []]
        if len(ranks) != len(set(ranks)):
            errors["candidates"] = ["Each candidate needs its own rank."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class LeadReviewIn(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[State.VERIFIED, State.REJECTED])
    note = StrictCharField(max_length=4000)


class LeadShareIn(serializers.Serializer):
    priority = serializers.ChoiceField(choices=["routine", "urgent", "emergency"])
    audience = AudienceIn()
    title = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    body = StrictCharField(max_length=4000, required=False, allow_blank=True, default="")


class LeadFilterIn(QueryFilterIn):
    kind = serializers.ChoiceField(choices=Kind.values, required=False)
    state = serializers.ChoiceField(choices=State.values, required=False)
    case_number = StrictCharField(max_length=64, required=False)
    queue = serializers.ChoiceField(
        choices=["review"], required=False, help_text="`review`: the leads waiting for a review by the caller."
    )


class RelatedIn(QueryFilterIn):
    passthrough = frozenset()  # one answer, not pages: `page` is not a parameter here either
    unknown_message = NOT_A_PARAMETER

    radius_m = StrictFloatField(min_value=1, max_value=50_000, required=False)
    hours = StrictFloatField(min_value=0, max_value=24 * 30, required=False)


def _person(user) -> dict | None:
    if user is None:
        return None
    return {"id": str(user.pk), "username": user.get_username(), "full_name": getattr(user, "full_name", "")}


class LeadOut(serializers.Serializer):
    id = serializers.UUIDField()
    kind = StrictCharField()
    state = StrictCharField()
    case_number = StrictCharField()
    summary = StrictCharField()
    incident = serializers.UUIDField(source="incident_id", allow_null=True)
    probe_media = serializers.UUIDField(source="probe_media_id", allow_null=True)
    search_system = StrictCharField()
    search_system_version = StrictCharField()
    candidates = serializers.JSONField()
    nibin_lead_number = StrictCharField()
    events = serializers.JSONField()
    created_by = serializers.UUIDField(source="created_by_id")
    created_at = serializers.DateTimeField()
    reviewed_by = serializers.UUIDField(source="reviewed_by_id", allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    review_note = StrictCharField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["events"] = events_out(instance.events or [])
        data["created_by_user"] = _person(instance.created_by)
        data["reviewed_by_user"] = _person(instance.reviewed_by)
        data["briefings"] = [str(share.briefing_id) for share in instance.shares.all()]
        data["review_overdue"] = review_overdue(instance)
        return data


class LeadUpdateOut(serializers.Serializer):
    """The console's `lead.update`: that a lead was created, reviewed or shared, not what it holds
    (reading a lead is audited per person; a page that shows it reads it again)."""

    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=State.choices)
    at = serializers.DateTimeField()
