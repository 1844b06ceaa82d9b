"""The append-only, hash-chained audit trail: who did what to which object, and when."""

from __future__ import annotations

import hashlib
import json

from django.db import models


class AppendOnly(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("audit events cannot be changed")

    def delete(self):
        raise AppendOnly("audit events cannot be deleted")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnly("audit events cannot be changed")


class AuditEvent(models.Model):
    # The place in the chain; null for the moment an event waits for the chain head (see
    # apps.audit.services.audit_seal_pending), given once and never changed after.
    seq = models.BigIntegerField(unique=True, null=True, editable=False)
    at = models.DateTimeField(db_index=True, editable=False)
    actor_type = models.CharField(max_length=16, editable=False)  # user, device, system, anonymous
    actor_id = models.CharField(max_length=64, blank=True, editable=False)
    actor_label = models.CharField(max_length=150, blank=True, editable=False)
    action = models.CharField(max_length=64, editable=False)
    object_type = models.CharField(max_length=32, blank=True, editable=False)
    object_id = models.CharField(max_length=64, blank=True, editable=False)
    outcome = models.CharField(max_length=16, default="success", editable=False)
    source_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    details = models.JSONField(default=dict, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "seq"], name="audit_object_idx"),
            models.Index(fields=["actor_type", "actor_id", "seq"], name="audit_actor_idx"),
            models.Index(fields=["action", "at"], name="audit_action_idx"),
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_waiting_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.actor_label or self.actor_type} {self.action}"

    def content(self) -> dict:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "outcome": self.outcome,
            "source_ip": self.source_ip,
            "details": self.details,
        }

    def compute_hash(self) -> str:
        canonical = json.dumps(self.content(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256((self.prev_hash + canonical).encode()).hexdigest()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit events cannot be deleted")


class AuditHead(models.Model):
    """One row: the last event's sequence number and hash. Locking it serializes appends,
    and it lets verification notice rows cut from the end of the chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
