"""Activity counters: how many times something happened per hour, day and month (UTC).

The public transparency report and the outcome statistics read these instead of scanning the
audit trail or the raw tables, so they answer in the same time after five years as after one.
A counted event adds to its hour, its day and its month in the transaction that records it, and
to a row at its exact time, kept EXACT_KEEP: a window's ends that fall inside an hour are counted
from those (apps/counters/selectors.py), so that a count is of the events inside the window.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models


class Level(models.TextChoices):
    EXACT = "e", "exact"  # `start` is the counted event's own time
    HOUR = "h", "hour"
    DAY = "d", "day"
    MONTH = "m", "month"


# Exact rows older than this are deleted (services.counters_prune): a window's end further back
# is counted from its whole hour.
EXACT_KEEP = timedelta(days=7)
# The exact row (n = 0) whose time says since when every counted event has one (migration 0003).
EXACT_SINCE = "counters.exact_since"


SHARDS = 8


class Count(models.Model):
    level = models.CharField(max_length=1, choices=Level.choices)
    start = models.DateTimeField()  # the bucket's first instant (UTC)
    name = models.CharField(max_length=64)  # e.g. "command.start_recording", "lead.nibin.verified"
    # One bucket is kept in up to SHARDS rows, each adding picks one at random and readers sum
    # them: a counted event holds its row until its transaction commits, and with one row per
    # bucket every transaction counting the same thing waited for the one before it (the first
    # looks of 200 viewers opening live views at once queued for seconds on "live.view").
    shard = models.PositiveSmallIntegerField(db_default=0)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "start", "name", "shard"], name="counters_bucket")]

    def __str__(self) -> str:
        return f"{self.name} {self.level} {self.start:%Y-%m-%d %H:00}: {self.n}"
