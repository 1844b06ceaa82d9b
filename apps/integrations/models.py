"""What the integrations keep in the database: objects the store refused to delete."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class StoreLeftover(models.Model):
    """An object whose row is gone (or was never written) and whose delete the store refused or
    did not answer, or an unfinished multipart upload (`upload_id`) it did not abort. The periodic
    sweep (`leftovers.retry`) deletes or aborts it again until the store does, so no byte
    outlives the rule that deleted its row or gave up its upload."""

    key = models.CharField(max_length=1024)
    upload_id = models.CharField(max_length=200, blank=True)  # set: abort this upload, not delete the key
    reason = models.CharField(max_length=200)  # who deleted it and why: "alpr read expired", ...
    first_failed_at = models.DateTimeField(default=timezone.now)
    last_tried_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=1)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "integrations_store_leftover"
        constraints = [models.UniqueConstraint(fields=["key", "upload_id"], name="integrations_leftover_once")]

    def __str__(self) -> str:
        return self.key
