"""Incidents (scenes), media (photos), briefings and one delivery row per recipient phone."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Incident(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    lat = models.FloatField()
    lon = models.FloatField()
    radius_m = models.FloatField(default=500)
    case_number = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    officers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="IncidentOfficer",
        through_fields=("incident", "officer"),
        related_name="incidents",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class IncidentOfficer(models.Model):
    """An officer assigned to an incident (the `{"incident": true}` audience)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="assignments")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "officer"], name="incident_officer_unique")]

    def __str__(self) -> str:
        return f"{self.officer_id} on {self.incident_id}"


class Media(models.Model):
    """A photo, re-encoded without metadata: a bounded-size image and a notification thumbnail."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    original_format = models.CharField(max_length=8)  # JPEG, PNG, WEBP
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    content_type = models.CharField(max_length=32)
    image_key = models.CharField(max_length=200)
    image_size = models.PositiveIntegerField()
    thumbnail_key = models.CharField(max_length=200)
    thumbnail_size = models.PositiveIntegerField()
    thumbnail_width = models.PositiveIntegerField()
    thumbnail_height = models.PositiveIntegerField()
    # Set, for good, when a briefing or a lead names the photo (services.media_hold): a photo no
    # briefing or lead ever named is deleted a day after its upload (services.media_purge_unused).
    # db_default: the previous release's code inserts media without this column.
    in_use = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(in_use=False), name="media_unused_created"),
        ]

    def __str__(self) -> str:
        return f"media {self.id} ({self.width}x{self.height})"


class Priority(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    EMERGENCY = "emergency", "Emergency"


class Briefing(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="briefings")
    priority = models.CharField(max_length=16, choices=Priority.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # a caution that leads the push and the page, e.g. a facial recognition lead's notice
    notice = models.CharField(max_length=200, blank=True, default="")
    suspects = models.JSONField(default=list)
    vehicles = models.JSONField(default=list)
    audience = models.JSONField(default=dict)
    recipients = models.PositiveIntegerField(default=0)  # officers in the audience
    phones = models.PositiveIntegerField(default=0)  # phones with a push token among them
    # officers among them with no phone a push could go to (none, or none with a push token); the
    # database default lets the previous release, still serving during an upgrade, add briefings
    officers_without_phone = models.PositiveIntegerField(default=0, db_default=0)
    image_url = models.URLField(max_length=1000, blank=True)  # signed thumbnail link for the notification
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class DeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNREGISTERED = "unregistered", "Unregistered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class Delivery(models.Model):
    """One recipient phone of a briefing.

    Every recipient officer has at least one row, so that the operator sees who could not be
    reached: an officer with no phone gets one row with no device, `failed`, error "no_phone";
    a phone with no push token (never registered, or retired after UNREGISTERED) is `failed`
    with "no_push_token". Otherwise the row is `queued` until FCM answers: `sent`, or
    `unregistered` (the token is retired; error is FCM's code), or `failed` (a payload error,
    or retries used up; error is FCM's code). `acknowledged` once the officer has read it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    briefing = models.ForeignKey(Briefing, on_delete=models.CASCADE, related_name="deliveries")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey("devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    token = models.CharField(max_length=4096, blank=True)  # the push token at the time of sending
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_state_next"),
            models.Index(fields=["briefing", "officer"], name="delivery_briefing_officer"),
            models.Index(fields=["officer", "created_at"], name="delivery_officer_created"),
        ]

    def __str__(self) -> str:
        return f"{self.briefing_id} -> {self.officer_id}/{self.device_id}: {self.state}"
