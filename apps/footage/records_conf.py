"""Tunables of the records side of apps.footage (search, access links, retention), each a RTCC_CLIP_* setting."""

from __future__ import annotations

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, name, default)


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
