"""Recording commands sent by operators to devices, with their state machine and timestamps."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .conf import IDEMPOTENCY_KEY_MAX, REASON_MAX


class CommandAction(models.TextChoices):
    START_RECORDING = "start_recording", "Start recording"
    STOP_RECORDING = "stop_recording", "Stop recording"


class CommandState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


# Not yet acknowledged by the device: still cancellable, and expired when the TTL passes.
UNACKED_STATES = (CommandState.QUEUED, CommandState.SENT)
# Unfinished, waiting for the device's result: sent (again) on every connect until then.
OPEN_STATES = (CommandState.QUEUED, CommandState.SENT, CommandState.DELIVERED)
FINAL_STATES = (CommandState.SUCCEEDED, CommandState.FAILED, CommandState.EXPIRED, CommandState.CANCELLED)


class Command(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, related_name="commands")
    action = models.CharField(max_length=32, choices=CommandAction.choices)
    reason = models.CharField(max_length=REASON_MAX)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=CommandState.choices, default=CommandState.QUEUED)
    ttl_seconds = models.PositiveIntegerField()

    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)  # first time it went out to the device
    last_sent_at = models.DateTimeField(null=True, blank=True)
    send_count = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)  # succeeded, failed, expired or cancelled
    error = models.TextField(blank=True)
    # When the officer's phones were told of this (succeeded) command: at most once, even when
    # the task that tells them is delivered twice.
    officer_notified_at = models.DateTimeField(null=True, blank=True)
    # When the push that wakes a phone to fetch this command went out (once; the sweep sends it
    # when queueing it failed, as while Redis is down).
    woken_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # Idempotency-Key, scoped to the requesting user and the device; the fingerprint is of the body.
    idempotency_key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "device", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="command_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["device", "state", "created_at"], name="command_device_state"),
            models.Index(fields=["device", "created_at"], name="command_device_created"),
            models.Index(fields=["state", "expires_at"], name="command_state_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.action} -> {self.device_id} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def device_payload(self) -> dict:
        """The command as the device websocket frame carries it (PROTOCOL "Device websocket")."""
        return {
            "id": str(self.id),
            "action": self.action,
            "reason": self.reason,
            "issued_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


class NoticeState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class CommandNotice(models.Model):
    """One officer notice owed to one phone: stored with the result that makes it due, so that
    neither a lost task nor a down broker or FCM loses it, and a redelivered task never sends it
    twice to one phone. Sending claims the row for a short lease (`next_attempt_at`); a worker
    killed mid-send leaves it to the sweep once the lease is over."""

    id = models.BigAutoField(primary_key=True)
    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="notices")
    phone = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=8, choices=NoticeState.choices, default=NoticeState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["command", "phone"], name="command_notice_once_per_phone")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="command_notice_due")]
