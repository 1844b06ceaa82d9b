"""Tunables of live view, each a Django setting with a default (the two from the environment
are parsed in rtcc/env.py: RTCC_LIVE_MAX_SECONDS and RTCC_LIVE_RETENTION)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

REASON_MAX = 500
MAX_SEGMENT_BYTES = 8 * 1024 * 1024  # the contract's cap (413 above it)
MAX_SEGMENT_SECONDS = 30.0  # a longer X-Segment-Duration is a mistake, not a segment
# Retry-After of a 503 `storage_unavailable`: a live segment is worth little a few seconds late.
STORE_RETRY_AFTER = 1


def max_seconds() -> int:
    """How long a session stays open before it ends by itself (asking again renews it)."""
    return int(getattr(settings, "RTCC_LIVE_MAX_SECONDS", 900))


def retention() -> timedelta:
    """How long segments are kept after they were stored."""
    value = getattr(settings, "RTCC_LIVE_RETENTION", timedelta(hours=1))
    return value if isinstance(value, timedelta) else timedelta(seconds=int(value))


def segment_seconds() -> int:
    """The segment length asked of cameras (1 s keeps the delay behind the street short)."""
    return int(getattr(settings, "RTCC_LIVE_SEGMENT_SECONDS", 1))


def playlist_segments() -> int:
    """How many of the latest segments a playlist lists."""
    return int(getattr(settings, "RTCC_LIVE_PLAYLIST_SEGMENTS", 8))


def link_seconds() -> int:
    """How long a segment link in a playlist works (players fetch within seconds of reading it)."""
    return int(getattr(settings, "RTCC_LIVE_LINK_SECONDS", 60))


def cache_bytes() -> int:
    """Per process: recent segments kept in memory for viewers (segments never change)."""
    return int(getattr(settings, "RTCC_LIVE_CACHE_BYTES", 64 * 1024 * 1024))


HOT_MAX_BYTES = 2 * 1024 * 1024  # a larger segment is read from the store, not copied into Redis


def hot_seconds() -> int:
    """How long Redis keeps a copy of each new media segment's bytes for the viewers of the
    other web processes (0: no copy; they read the store)."""
    return int(getattr(settings, "RTCC_LIVE_HOT_SECONDS", 10))


def sweep_batch() -> int:
    return int(getattr(settings, "RTCC_LIVE_SWEEP_BATCH", 500))
