"""Tunables of apps.footage (ingest and records), each overridable by a RTCC_CLIP_* Django setting."""

from __future__ import annotations

from django.conf import settings

MiB = 1024 * 1024
GiB = 1024 * MiB


def _get(name: str, default):
    return getattr(settings, name, default)


def max_clip_size() -> int:
    """Largest clip a device may declare (bytes)."""
    return int(_get("RTCC_CLIP_MAX_SIZE", 64 * GiB))


def min_part_size() -> int:
    """Smallest part size handed out; S3 needs 5 MiB for every part but the last."""
    return int(_get("RTCC_CLIP_MIN_PART_SIZE", 8 * MiB))


def max_parts() -> int:
    """Most parts a clip may have (S3's multipart limit is 10,000)."""
    return int(_get("RTCC_CLIP_MAX_PARTS", 10_000))


def part_url_ttl() -> int:
    """Seconds a part upload URL stays valid."""
    return int(_get("RTCC_CLIP_PART_URL_TTL", 15 * 60))


def parts_per_request() -> int:
    """Most part URLs one POST .../parts may ask for."""
    return int(_get("RTCC_CLIP_PARTS_PER_REQUEST", 500))


def future_skew() -> int:
    """Seconds a declared time may lie in the future (camera clocks drift)."""
    return int(_get("RTCC_CLIP_FUTURE_SKEW", 5 * 60))


def max_duration() -> int:
    """Longest plausible recording, in seconds."""
    return int(_get("RTCC_CLIP_MAX_DURATION", 24 * 3600))


def content_types() -> tuple[str, ...]:
    """Media types a clip may declare; `video/*` admits every video type."""
    return tuple(_get("RTCC_CLIP_CONTENT_TYPES", ("video/*",)))


def stale_upload_age() -> int:
    """Seconds an unfinished upload may go without a sign of life (a change to the clip, a request of
    its device about it, a part the store took) before it is aborted and its clip marked `aborted`."""
    return int(_get("RTCC_CLIP_STALE_UPLOAD_AGE", 48 * 3600))


def verify_lease() -> float:
    """Seconds one verification holds its clip without news; the reader renews it as it reads, so
    a worker killed mid-read frees the clip for the verify sweep this long after its last renewal."""
    return float(_get("RTCC_CLIP_VERIFY_LEASE", 15))


def verify_backoff() -> tuple[float, float]:
    """(first, longest) pause in seconds before verifying again after the store failed; doubling."""
    return float(_get("RTCC_CLIP_VERIFY_BACKOFF", 2)), float(_get("RTCC_CLIP_VERIFY_BACKOFF_MAX", 60))


def verify_sweep_batch() -> int:
    """Most due clips one run of the verify sweep (every few seconds) queues."""
    return int(_get("RTCC_CLIP_VERIFY_SWEEP_BATCH", 100))


def verify_missing_attempts() -> int:
    """Reads that must find no object at all before a clip is marked `corrupt` for it (a store
    coming back may briefly answer "no such key"); a size or hash mismatch counts at once. Reads
    the store failed (down, timing out) do not count."""
    return int(_get("RTCC_CLIP_VERIFY_MISSING_ATTEMPTS", 3))


def storage_retry_after() -> int:
    """Retry-After (seconds) of a 503 `storage_unavailable`."""
    return int(_get("RTCC_CLIP_STORAGE_RETRY_AFTER", 5))


def default_category() -> str:
    return str(_get("RTCC_CLIP_DEFAULT_CATEGORY", "uncategorized"))


def verify_streams() -> int:
    """GETs at once reading a clip back for verification: 1 (the default) reads it as one stream
    of 64 MiB ranged GETs (the next asked for while one is read), straight into reused buffers,
    hashed as it arrives; N > 1 reads N ranged GETs of 8 MiB at once (for a store that serves one
    stream slower than SHA-256 runs). On a 2-core machine with SeaweedFS beside rtcc, one stream
    was the faster (bench/clip_verify.py compares both)."""
    return max(1, int(_get("RTCC_CLIP_VERIFY_STREAMS", 1)))


def inline_verify_max() -> int:
    """Without a Celery worker, clips up to this size are verified inside `complete`; bigger ones in a thread."""
    return int(_get("RTCC_CLIP_INLINE_VERIFY_MAX", 64 * MiB))


# Records: search, access links, retention -------------------------------------------------


def access_link_ttl() -> int:
    """Seconds a link from POST /clips/{id}/access stays valid."""
    return int(_get("RTCC_CLIP_ACCESS_TTL", 5 * 60))


def manifest_link_ttl() -> int:
    """Seconds the links in a case manifest stay valid (a prosecutor fetches many files in a row)."""
    return int(_get("RTCC_CLIP_MANIFEST_LINK_TTL", 60 * 60))


def manifest_max_clips() -> int:
    """Most clips one case manifest lists."""
    return int(_get("RTCC_CLIP_MANIFEST_MAX_CLIPS", 5_000))


def search_count_cap() -> int:
    """Search counts exactly up to this many matches; beyond it `count` is the planner's estimate."""
    return int(_get("RTCC_CLIP_SEARCH_COUNT_CAP", 10_000))


def search_max_radius_m() -> float:
    """Largest radius of a search near a point, in metres."""
    return float(_get("RTCC_CLIP_SEARCH_MAX_RADIUS_M", 100_000))


def purge_batch() -> int:
    """Most clips one run of the periodic purge deletes."""
    return int(_get("RTCC_CLIP_PURGE_BATCH", 200))


def object_lock_mode() -> str:
    """Object Lock retention mode set on stored clips where the bucket has Object Lock:
    GOVERNANCE (a privileged key may still lift it) or COMPLIANCE (nobody can, not even root)."""
    mode = str(_get("RTCC_CLIP_OBJECT_LOCK_MODE", "GOVERNANCE")).upper()
    if mode not in {"GOVERNANCE", "COMPLIANCE"}:
        raise ValueError("RTCC_CLIP_OBJECT_LOCK_MODE must be GOVERNANCE or COMPLIANCE")
    return mode


def object_lock_batch() -> int:
    """Most clips one run of the Object Lock sweep handles."""
    return int(_get("RTCC_CLIP_OBJECT_LOCK_BATCH", 200))
