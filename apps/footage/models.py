"""Clips (bodycam recordings as evidence), their upload into object storage, and categories."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Category(models.Model):
    """A kind of footage with its retention period; null retention_days means kept indefinitely."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class ClipState(models.TextChoices):
    UPLOADING = "uploading", "Uploading"
    VERIFYING = "verifying", "Verifying"
    AVAILABLE = "available", "Available"
    CORRUPT = "corrupt", "Corrupt"
    ABORTED = "aborted", "Aborted"
    PURGED = "purged", "Purged"


class Trigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    REMOTE = "remote", "Remote command"
    AUTO = "auto", "Automatic"


class Clip(models.Model):
    """One recording from one device: metadata, integrity facts and where its bytes are stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, related_name="clips")
    # The device's assignee at started_at (Assignment history), null when nobody had it.
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="clips"
    )
    recording_id = models.CharField(max_length=128)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    duration_s = models.FloatField()
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)  # as declared by the camera, lower-case hex
    content_type = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=ClipState.choices, default=ClipState.UPLOADING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    # The control command that started the recording (trigger=remote); no FK across apps on purpose.
    command_id = models.UUIDField(null=True, blank=True)

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="clips")
    case_number = models.CharField(max_length=64, blank=True, default="")
    # apps.briefings' Incident; kept as a bare id so the apps stay independent.
    incident_id = models.UUIDField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    retain_until = models.DateTimeField(null=True, blank=True)  # null: kept indefinitely

    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)

    # Storage and upload.
    storage_key = models.CharField(max_length=512, unique=True)
    upload_id = models.CharField(max_length=1024, blank=True, default="")
    part_size = models.BigIntegerField()
    part_count = models.PositiveIntegerField()

    # What verification found (kept for a corrupt clip, so the mismatch can be shown).
    observed_size = models.BigIntegerField(null=True, blank=True)
    observed_sha256 = models.CharField(max_length=64, blank=True, default="")
    # Verification's lease (state `verifying`): due when null or past. Whoever moves it forward
    # (a conditional UPDATE that also counts the attempt) reads the clip; a reader renews it while
    # it reads, and a store error sets it to a backed-off retry time. A killed worker's lease
    # simply runs out and the periodic verify sweep takes the clip again.
    verify_due_at = models.DateTimeField(null=True, blank=True)
    verify_attempts = models.PositiveIntegerField(default=0)
    verify_missing_reads = models.PositiveIntegerField(default=0)  # reads that found no object at all

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # The upload's last sign of life that leaves `updated_at` alone: the device's last request about
    # it (part URLs, status, complete, a disk part PUT, declaring it again), or when the store took a
    # part the stale-upload sweep found there. The sweep counts from the later of the two; null: none yet.
    upload_seen_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    aborted_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    # Records (apps/footage/records/): the tombstone's who and why, and what Object Lock holds.
    purged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # null: the periodic purge
    purge_reason = models.CharField(max_length=500, blank=True, default="")
    object_lock_until = models.DateTimeField(null=True, blank=True)  # retention set on the stored object
    object_locked_at = models.DateTimeField(null=True, blank=True)  # last Object Lock sync, null: never

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["device", "recording_id"], name="clip_device_recording_unique"),
            # A held clip is never deleted: no row can be both held and purged.
            models.CheckConstraint(condition=~models.Q(legal_hold=True, state="purged"), name="clip_held_not_purged"),
        ]
        indexes = [
            models.Index(fields=["officer", "started_at"], name="clip_officer_started"),
            models.Index(fields=["device", "started_at"], name="clip_device_started"),
            models.Index(fields=["case_number", "started_at"], name="clip_case_started"),
            models.Index(fields=["category", "started_at"], name="clip_category_started"),
            models.Index(fields=["incident_id", "started_at"], name="clip_incident_started"),
            models.Index(fields=["state", "created_at"], name="clip_state_created"),
            models.Index(fields=["started_at"], name="clip_started"),
            models.Index(fields=["retain_until"], name="clip_retain_until"),
            # Records: what the periodic purge and the Object Lock sweep look for.
            models.Index(
                fields=["retain_until"], name="clip_purge_due", condition=models.Q(state="available", legal_hold=False)
            ),
            models.Index(
                fields=["created_at"],
                name="clip_lock_pending",
                condition=models.Q(state="available", object_locked_at__isnull=True),
            ),
            models.Index(
                fields=["verify_due_at"], name="clip_verify_due", condition=models.Q(state="verifying")
            ),  # what the verify sweep looks for
            models.Index(fields=["lat", "lon"], name="clip_lat_lon"),  # search near a point (bounding box)
        ]

    def __str__(self) -> str:
        return f"clip {self.pk} ({self.state})"

    def part_length(self, number: int) -> int:
        """Byte length of part `number` (1-based): part_size, except a shorter last part."""
        if number < self.part_count:
            return self.part_size
        return self.size_bytes - self.part_size * (self.part_count - 1)

    @property
    def location(self) -> dict | None:
        if self.lat is None or self.lon is None:
            return None
        return {"lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m}
