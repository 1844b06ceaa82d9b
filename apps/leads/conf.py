"""Tunables of apps.leads (Django settings with defaults)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

NOTICE = "Investigative lead only - not probable cause."


def related_radius_m() -> float:
    return float(getattr(settings, "RTCC_LEADS_RELATED_RADIUS_M", 500))


def related_hours() -> float:
    return float(getattr(settings, "RTCC_LEADS_RELATED_HOURS", 2))


def nibin_review_due() -> timedelta:
    """A NIBIN lead waiting longer than this for a review is flagged on the console."""
    return timedelta(hours=float(getattr(settings, "RTCC_LEADS_NIBIN_REVIEW_HOURS", 48)))


def related_limit() -> int:
    return int(getattr(settings, "RTCC_LEADS_RELATED_LIMIT", 500))
