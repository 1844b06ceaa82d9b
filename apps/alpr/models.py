"""Plate reads, hotlists and their entries, hits, and the daily read counts.

Reads are the big table (10 million a day state-wide): on PostgreSQL it is partitioned by
`read_at` (one partition a day, see partitions.py and migration 0001), so its primary key
there is (id, read_at) and nothing holds a database foreign key to it; Django still sees `id`
as the key (UUIDs are unique on their own).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.briefings.models import Briefing
from apps.devices.models import Device


class Read(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # no database constraint: a partitioned table's rows are dropped a partition at a time
    reader = models.ForeignKey(Device, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    read_id = models.CharField(max_length=64)
    plate = models.CharField(max_length=32)
    plate_normalized = models.CharField(max_length=16)
    plate_folded = models.CharField(max_length=16)
    plate_state = models.CharField(max_length=2, blank=True, default="")
    confidence = models.FloatField(null=True, blank=True)
    read_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)
    candidates = models.JSONField(default=list, blank=True)
    vehicle = models.JSONField(default=dict, blank=True)
    image_key = models.CharField(max_length=200, blank=True, default="")
    image_sha256 = models.CharField(max_length=64, blank=True, default="")
    image_size = models.PositiveIntegerField(null=True, blank=True)
    # set when a hit is made on this read: retention keeps it
    has_hit = models.BooleanField(default=False)

    class Meta:
        # On PostgreSQL the migration builds these by hand on the partitioned table.
        indexes = [
            models.Index(fields=["plate_normalized", "read_at"], name="alpr_read_plate"),
            models.Index(fields=["plate_folded", "read_at"], name="alpr_read_folded"),
            models.Index(fields=["read_at"], name="alpr_read_at"),
            models.Index(fields=["reader", "read_id"], name="alpr_read_reader_read_id"),
        ]
        ordering = ["-read_at"]

    def __str__(self) -> str:
        return f"{self.plate_normalized} at {self.read_at:%Y-%m-%d %H:%M:%S}"


class Source(models.TextChoices):
    NCIC = "ncic", "NCIC"
    STATE = "state", "State"
    LOCAL = "local", "Local"


class Hotlist(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    source = models.CharField(max_length=8, choices=Source.choices)
    priority = models.PositiveSmallIntegerField(default=50)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_import_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-priority", "name"]

    def __str__(self) -> str:
        return self.name


class Entry(models.Model):
    """A plate on a hotlist. Removed entries stay (their hits point at them) but never hit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hotlist = models.ForeignKey(Hotlist, on_delete=models.CASCADE, related_name="entries")
    plate = models.CharField(max_length=32)
    plate_normalized = models.CharField(max_length=16)
    plate_folded = models.CharField(max_length=16)
    plate_state = models.CharField(max_length=2, blank=True, default="")
    reason = models.CharField(max_length=200)
    case_number = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    vehicle = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # the lookups at ingest: only live entries are in these indexes
            models.Index(
                fields=["plate_normalized"], name="alpr_entry_live_plate", condition=models.Q(removed_at__isnull=True)
            ),
            models.Index(
                fields=["plate_folded"], name="alpr_entry_live_folded", condition=models.Q(removed_at__isnull=True)
            ),
            models.Index(fields=["hotlist", "created_at"], name="alpr_entry_list"),
            # a list's live entries in order, and their count (every hotlists page): from the
            # index alone, not a read of every entry (100,000 entries cost 57 ms a page)
            models.Index(
                fields=["hotlist", "created_at", "id"],
                name="alpr_entry_live_list",
                condition=models.Q(removed_at__isnull=True),
            ),
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.plate_normalized} on {self.hotlist_id}"


class Match(models.TextChoices):
    EXACT = "exact"
    SIMILAR = "similar"
    CANDIDATE = "candidate"


class HitState(models.TextChoices):
    NEW = "new"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class RejectReason(models.TextChoices):
    MISREAD = "misread"
    NOT_CURRENT = "not_current"
    DUPLICATE = "duplicate"
    OTHER = "other"


class Hit(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    read = models.ForeignKey(Read, on_delete=models.DO_NOTHING, db_constraint=False, related_name="hits")
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="hits")
    hotlist = models.ForeignKey(Hotlist, on_delete=models.PROTECT, related_name="hits")
    match = models.CharField(max_length=10, choices=Match.choices)
    historical = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=HitState.choices, default=HitState.NEW)
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=16, choices=RejectReason.choices, null=True, blank=True)
    note = models.TextField(blank=True, default="")
    briefing = models.ForeignKey(Briefing, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    briefed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["read", "entry"], name="alpr_hit_read_entry")]
        indexes = [
            models.Index(fields=["state", "created_at"], name="alpr_hit_state"),
            models.Index(fields=["hotlist", "created_at"], name="alpr_hit_hotlist"),
            # the hit queue unfiltered, newest first: a page deep in it was a sort of every hit
            models.Index(fields=["-created_at", "id"], name="alpr_hit_newest"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"hit {self.pk} ({self.match}, {self.state})"


class ReadCount(models.Model):
    """Reads received and deleted per UTC day: the transparency report's counts outlive the reads."""

    day = models.DateField(primary_key=True)
    received = models.BigIntegerField(default=0)
    deleted = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.received} received, {self.deleted} deleted"
