"""Input and output shapes of the briefings API."""

from __future__ import annotations

from rest_framework import serializers

from .models import Incident


class LocationIn(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)


class IncidentCreateIn(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    location = LocationIn()
    radius_m = serializers.FloatField(min_value=1, max_value=100_000, required=False)
    case_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


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
