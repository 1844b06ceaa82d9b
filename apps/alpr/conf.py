"""Tunables of the plate-reader app, each overridable with an RTCC_* Django setting."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings


def read_retention() -> timedelta:
    """Reads with no hit are deleted this long after `read_at` (RTCC_ALPR_READ_RETENTION)."""
    return getattr(settings, "RTCC_ALPR_READ_RETENTION", timedelta(days=30))


def max_reads_per_batch() -> int:
    return getattr(settings, "RTCC_ALPR_MAX_READS", 500)


def search_count_cap() -> int:
    """A plate search counts exactly up to this many matches; beyond it `count` is the planner's
    estimate (an exact count of weeks of reads would take minutes)."""
    return getattr(settings, "RTCC_ALPR_SEARCH_COUNT_CAP", 10_000)


def max_image_bytes() -> int:
    """A plate crop or overview JPEG, decoded."""
    return getattr(settings, "RTCC_ALPR_MAX_IMAGE_BYTES", 2 * 1024 * 1024)


def max_image_pixels() -> int:
    return getattr(settings, "RTCC_ALPR_MAX_IMAGE_PIXELS", 4096 * 4096)


def future_skew() -> timedelta:
    """A read may claim a time at most this far ahead of the server's clock."""
    return getattr(settings, "RTCC_ALPR_FUTURE_SKEW", timedelta(hours=1))


def delete_batch() -> int:
    """Rows per bounded delete of expired reads."""
    return getattr(settings, "RTCC_ALPR_DELETE_BATCH", 5000)


def delete_time_budget() -> float:
    """Seconds one retention run spends on batch deletes (the next run carries on)."""
    return getattr(settings, "RTCC_ALPR_DELETE_SECONDS", 50.0)


def stale_after() -> timedelta:
    """A hotlist whose last import is older than this is flagged stale on the console."""
    return getattr(settings, "RTCC_ALPR_STALE_AFTER", timedelta(days=1))


def brief_radius_m() -> float:
    """The default audience of a hit's briefing: officers this near the read."""
    return getattr(settings, "RTCC_ALPR_BRIEF_RADIUS_M", 2000.0)


def local_expiry_limit(now: datetime) -> datetime:
    """The latest an entry of a local list may expire: a year from now, the same date and time
    next year (February 29 -> February 28)."""
    try:
        return now.replace(year=now.year + 1)
    except ValueError:
        return now.replace(year=now.year + 1, day=28)


def max_import_bytes() -> int:
    return getattr(settings, "RTCC_ALPR_MAX_IMPORT_BYTES", 200 * 1024 * 1024)
