"""Activity counters: how many times something happened per hour, day and month (UTC).

The public transparency report and the outcome statistics read these instead of scanning the
audit trail or the raw tables, so they answer in the same time after five years as after one.
A counted event adds to its hour, its day and its month in the transaction that records it.
"""

from __future__ import annotations

from django.db import models


class Level(models.TextChoices):
    HOUR = "h", "hour"
    DAY = "d", "day"
    MONTH = "m", "month"


class Count(models.Model):
    level = models.CharField(max_length=1, choices=Level.choices)
    start = models.DateTimeField()  # the bucket's first instant (UTC)
    name = models.CharField(max_length=64)  # e.g. "command.start_recording", "lead.nibin.verified"
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "start", "name"], name="counters_bucket")]

    def __str__(self) -> str:
        return f"{self.name} {self.level} {self.start:%Y-%m-%d %H:00}: {self.n}"
