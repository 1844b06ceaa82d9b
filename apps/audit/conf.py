"""Tunables of the audit trail, overridable with RTCC_AUDIT_* settings."""

from __future__ import annotations

from django.conf import settings


def seal_interval() -> float:
    """Seconds an event that found the chain head taken may wait before it is chained (with
    every other event waiting then, one head update for all)."""
    return float(getattr(settings, "RTCC_AUDIT_SEAL_INTERVAL", 0.05))
