"""Assists: what the center's work led to in the field (outcome codes) and the tools it used."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

OUTCOME_CODES = [
    "assisted_on_scene",
    "vehicle_info",
    "suspect_info",
    "recovered_vehicle",
    "recovered_property",
    "recovered_gun",
    "recovered_drugs",
    "case_info",
    "missing_person_located",
    "arrest",
    "assisted_other_agency",
]
TOOLS = ["alpr", "bodycam", "live_view", "facial_recognition", "nibin", "briefing", "other"]

OUTCOME_LABELS = {
    "assisted_on_scene": "Officers assisted on scene",
    "vehicle_info": "Vehicle information",
    "suspect_info": "Suspect information",
    "recovered_vehicle": "Recovered vehicles",
    "recovered_property": "Recovered property",
    "recovered_gun": "Guns recovered",
    "recovered_drugs": "Drugs recovered",
    "case_info": "Case information",
    "missing_person_located": "Missing persons located",
    "arrest": "Arrests",
    "assisted_other_agency": "Other agencies assisted",
}


class Assist(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    outcomes = models.JSONField(default=list)
    tools = models.JSONField(default=list, blank=True)
    case_number = models.CharField(max_length=64, blank=True)
    incident = models.ForeignKey(
        "briefings.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="assists"
    )
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    # what the assist came from, when known (a confirmed suggestion names its briefing)
    briefing = models.ForeignKey(
        "briefings.Briefing", null=True, blank=True, on_delete=models.PROTECT, related_name="assists"
    )
    lead = models.ForeignKey("leads.Lead", null=True, blank=True, on_delete=models.PROTECT, related_name="assists")
    hit = models.UUIDField(null=True, blank=True)  # an alpr hit's id
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "id"]
        indexes = [
            models.Index(fields=["occurred_at"], name="assist_occurred"),
            models.Index(fields=["case_number"], name="assist_case_number"),
        ]

    def __str__(self) -> str:
        return f"assist {self.pk} ({', '.join(self.outcomes)})"


class DismissedSuggestion(models.Model):
    """A suggested assist the operator said did not happen (it is not suggested again)."""

    briefing = models.OneToOneField("briefings.Briefing", on_delete=models.CASCADE, related_name="+")
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    dismissed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"dismissed suggestion for briefing {self.briefing_id}"
