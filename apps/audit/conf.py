"""Tunables of the audit trail, overridable with RTCC_AUDIT_* settings."""

from __future__ import annotations

from django.conf import settings


def seal_interval() -> float:
    """Seconds an event that found the chain head taken may wait before it is chained (with
    every other event waiting then, one head update for all)."""
    return float(getattr(settings, "RTCC_AUDIT_SEAL_INTERVAL", 0.05))


def checkpoint_max_events() -> int:
    """Event hashes one signed checkpoint holds at most: a run with more to sign writes several, so
    neither the writer nor verify_audit holds a whole year's hashes at once (the first checkpoint
    over 500,000 events took 600 MB to verify)."""
    return int(getattr(settings, "RTCC_AUDIT_CHECKPOINT_MAX_EVENTS", 50_000))
