"""Tunables of the briefings app, each overridable with a RTCC_<NAME> Django setting."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def location_freshness() -> timedelta:
    """How recent a phone's location must be to count for a {"near": ...} audience."""
    return getattr(settings, "RTCC_BRIEFING_LOCATION_FRESHNESS", timedelta(minutes=10))


def push_batch_size() -> int:
    """Messages per send task (FCM's send_each takes at most 500)."""
    return min(500, int(getattr(settings, "RTCC_PUSH_BATCH_SIZE", 500)))


def push_max_attempts() -> int:
    return int(getattr(settings, "RTCC_PUSH_MAX_ATTEMPTS", 8))


def push_backoff_base() -> float:
    """Seconds before the first retry; doubles per attempt (capped), Retry-After wins when longer."""
    return float(getattr(settings, "RTCC_PUSH_BACKOFF_BASE", 2.0))


def push_backoff_max() -> float:
    return float(getattr(settings, "RTCC_PUSH_BACKOFF_MAX", 300.0))


def push_stale_after() -> timedelta:
    """A queued delivery no send has started on this long is picked up by the sweep (a lost task,
    the broker down); a first send that starts after half of it leaves its rows to the sweep."""
    return getattr(settings, "RTCC_PUSH_STALE_AFTER", timedelta(seconds=120))


def push_send_lease() -> timedelta:
    """How long a send holds the rows it is sending, renewed every third of it while FCM answers:
    a worker killed mid-send leaves them to the sweep this long after its last renewal."""
    return getattr(settings, "RTCC_PUSH_SEND_LEASE", timedelta(seconds=30))


def media_max_pixels() -> int:
    """Refuse images with more pixels than this (decompression bombs)."""
    return int(getattr(settings, "RTCC_MEDIA_MAX_PIXELS", 40_000_000))


def media_max_side() -> int:
    return int(getattr(settings, "RTCC_MEDIA_MAX_SIDE", 1600))


def media_thumbnail_side() -> int:
    return int(getattr(settings, "RTCC_MEDIA_THUMBNAIL_SIDE", 512))


def media_thumbnail_link_ttl() -> timedelta:
    """How long a signed thumbnail link (the notification image) stays valid: a phone fetches it
    when the notification arrives, and each push is signed afresh as it goes out."""
    return getattr(settings, "RTCC_MEDIA_THUMBNAIL_LINK_TTL", timedelta(minutes=10))


def push_inline_retry_budget() -> float:
    """Seconds a send task may sleep in all to retry short failures itself (flaky, Retry-After: 1)."""
    return float(getattr(settings, "RTCC_PUSH_INLINE_RETRY_BUDGET", 5.0))


def public_base_url() -> str | None:
    """The URL phones reach rtcc at (for notification images); unset: the operator's request host."""
    return getattr(settings, "RTCC_PUBLIC_URL", None)


def media_unused_keep() -> timedelta:
    """How long an uploaded photo that no briefing or lead names is kept before it is deleted
    (row, image and thumbnail): long enough for an operator to finish the briefing it was for."""
    return getattr(settings, "RTCC_MEDIA_UNUSED_KEEP", timedelta(hours=24))


def media_purge_batch() -> int:
    """Unused photos deleted per transaction (each one's rows are held only that long)."""
    return int(getattr(settings, "RTCC_MEDIA_PURGE_BATCH", 200))


def media_purge_time_budget() -> float:
    """Seconds one purge run goes on taking batches; the next run carries on."""
    return float(getattr(settings, "RTCC_MEDIA_PURGE_TIME_BUDGET", 30.0))
