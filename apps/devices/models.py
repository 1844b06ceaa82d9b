"""Registered devices (bodycams, phones and plate readers), their credentials, assignments and presence."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class DeviceKind(models.TextChoices):
    BODYCAM = "bodycam", "Body-worn camera"
    PHONE = "phone", "Officer phone"
    ALPR = "alpr", "Plate reader"


class Device(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=DeviceKind.choices)
    serial = models.CharField(max_length=64)
    model = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=64, blank=True)
    firmware = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The revoked device this one took over from (the same kind and serial, registered again);
    # the old row keeps its own history: clips, commands, assignments, audit.
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by", editable=False
    )

    # Enrollment: a one-time code (hashed) and, once enrolled, the device's token (hashed).
    enrollment_code_hash = models.CharField(max_length=64, blank=True)
    enrollment_expires_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)

    # Current assignee; the history is in Assignment.
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="devices"
    )

    # FCM registration token (phones).
    push_token = models.CharField(max_length=4096, null=True, blank=True)
    push_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    push_token_updated_at = models.DateTimeField(null=True, blank=True)

    # Presence as last written through to the database (the live copy may be newer).
    online = models.BooleanField(default=False)
    last_seen = models.DateTimeField(null=True, blank=True)
    recording = models.BooleanField(default=False)
    battery_pct = models.PositiveSmallIntegerField(null=True, blank=True)
    storage_free_mb = models.PositiveIntegerField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    location_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # a serial names one device in use: revoked devices keep their rows (evidence) and
            # leave the serial free to register again
            models.UniqueConstraint(
                fields=["kind", "serial"],
                condition=models.Q(revoked_at__isnull=True),
                name="device_kind_serial_unique_unrevoked",
            ),
        ]
        indexes = [models.Index(fields=["kind", "online"], name="device_kind_online")]
        ordering = ["kind", "serial"]

    # A device authenticates as itself: DRF's request.user is the Device.
    is_authenticated = True
    is_anonymous = False
    is_active = True
    audit_actor_type = "device"

    def __str__(self) -> str:
        return self.label or f"{self.get_kind_display()} {self.serial}"

    @property
    def audit_label(self) -> str:
        return f"{self.kind}:{self.serial}"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class Assignment(models.Model):
    """Who had which device from when to when: a clip's officer is the assignee at recording time."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="assignments")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["device", "started_at"], name="assignment_device_start")]
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=models.Q(ended_at__isnull=True), name="assignment_one_open_per_device"
            ),
        ]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.device} -> {self.officer} from {self.started_at:%Y-%m-%d %H:%M}"


class EnrollmentFailure(models.Model):
    """A failed enrollment attempt: the throttle counts these per address and per serial, in the
    database so that every server process sees the same count."""

    at = models.DateTimeField(default=timezone.now)
    serial = models.CharField(max_length=64)
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["serial", "at"], name="enroll_failure_serial_at"),
            models.Index(fields=["source_ip", "at"], name="enroll_failure_ip_at"),
        ]

    def __str__(self) -> str:
        return f"{self.serial} from {self.source_ip} at {self.at:%Y-%m-%d %H:%M:%S}"
