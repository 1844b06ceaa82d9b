"""Investigative leads from outside systems (facial recognition, NIBIN, other), held to a
two-person rule: the creator never reviews their own lead, and only a verified lead is shared."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Kind(models.TextChoices):
    FACIAL_RECOGNITION = "facial_recognition", "Facial recognition"
    NIBIN = "nibin", "NIBIN"
    OTHER = "other", "Other"


class State(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Pending review"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"


class Lead(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING_REVIEW)
    case_number = models.CharField(max_length=64)
    summary = models.TextField()
    incident = models.ForeignKey(
        "briefings.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="leads"
    )
    # facial recognition: the probe image, the system searched and the whole candidate list
    probe_media = models.ForeignKey(
        "briefings.Media", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    search_system = models.CharField(max_length=200, blank=True)
    search_system_version = models.CharField(max_length=100, blank=True)
    candidates = models.JSONField(default=list, blank=True)
    # NIBIN: the correlation's lead number and its linked events (case, time, place, items)
    nibin_lead_number = models.CharField(max_length=64, blank=True)
    events = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The creator's badge number as it was when the lead was made: the two-person rule takes it
    # and the one the creator has now (IT may change it; the person behind it is the same).
    created_by_badge = models.CharField(max_length=32, blank=True, default="", db_default="")
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "created_at"], name="lead_state_created"),
            models.Index(fields=["case_number"], name="lead_case_number"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} lead {self.case_number}"


class LeadBriefing(models.Model):
    """A briefing a verified lead was shared as (briefings know nothing of leads)."""

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="shares")
    briefing = models.OneToOneField("briefings.Briefing", on_delete=models.PROTECT, related_name="lead_share")
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    shared_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["shared_at"]

    def __str__(self) -> str:
        return f"lead {self.lead_id} -> briefing {self.briefing_id}"
