"""Live view sessions, the segments a camera pushed for them, and who watched."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .conf import REASON_MAX


class LiveState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"


OPEN_STATES = (LiveState.REQUESTED, LiveState.LIVE)


class EndReason(models.TextChoices):
    STOPPED = "stopped", "Stopped by an operator"
    RECORDING_STOPPED = "recording_stopped", "The camera stopped recording"
    DISCONNECTED = "disconnected", "The camera disconnected"
    TIME_LIMIT = "time_limit", "Time limit reached"
    REVOKED = "revoked", "The device was revoked"


class LiveSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, related_name="live_sessions")
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # who wore the camera when the session was asked for
    state = models.CharField(max_length=16, choices=LiveState.choices, default=LiveState.REQUESTED)
    reason = models.CharField(max_length=REASON_MAX)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)  # the first media segment
    ended_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()  # renewed by asking again
    renew_count = models.PositiveIntegerField(default=0)
    end_reason = models.CharField(max_length=32, choices=EndReason.choices, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Where the camera and viewers reach rtcc (from the request that opened it, or RTCC_PUBLIC_URL).
    base_url = models.CharField(max_length=300)
    segment_seconds = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=models.Q(state__in=["requested", "live"]), name="live_one_open_per_device"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="live_state_expiry"),
            models.Index(fields=["device", "created_at"], name="live_device_created"),
        ]

    def __str__(self) -> str:
        return f"live {self.device_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def path(self) -> str:
        return f"/api/v1/live/{self.id}/"

    @property
    def upload_url(self) -> str:
        return f"{self.base_url}{self.path}segments/"

    @property
    def playlist_url(self) -> str:
        return f"{self.base_url}{self.path}playlist.m3u8"


class LiveSegment(models.Model):
    """One stored piece: `init.mp4` (sequence null) or `<sequence>.m4s`."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=24)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    size = models.PositiveIntegerField()
    stored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "name"], name="live_segment_once")]
        indexes = [
            models.Index(fields=["session", "sequence"], name="live_segment_sequence"),
            models.Index(fields=["stored_at"], name="live_segment_stored"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.name}"

    @property
    def key(self) -> str:
        return segment_key(self.session_id, self.name)


def segment_key(session_id, name: str) -> str:
    return f"live/{session_id}/{name}"


class LiveViewer(models.Model):
    """A person who read the session's playlist: the first look is audited and told to the officer."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="viewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    first_viewed_at = models.DateTimeField(default=timezone.now)
    last_viewed_at = models.DateTimeField(default=timezone.now)
    # When FCM took the officer's push for this first look (null: still owed; the sweep queues it
    # again, so a broker hiccup, a lost task or a worker that died sending never loses it).
    officer_told_at = models.DateTimeField(null=True, blank=True)
    # The officer's phones (ids) a retry still owes the notice to, when FCM took it for the others;
    # empty: every phone of the officer. The database default lets the previous release, still
    # serving during an upgrade, add viewers.
    officer_phones_owed = models.JSONField(default=list, db_default=[], blank=True)
    # Until when a sender holds the notice (services.NOTICE_LEASE_S): officer_told_at is written
    # only once FCM took it, so a notice whose sender died mid-send is owed again after this.
    officer_notice_lease = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["first_viewed_at"]
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="live_viewer_once")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.session_id}"
