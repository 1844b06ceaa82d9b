"""Tunables of the device fleet, each overridable with an RTCC_* Django setting."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def enrollment_code_ttl() -> timedelta:
    """How long a fresh enrollment code works."""
    return getattr(settings, "RTCC_ENROLLMENT_CODE_TTL", timedelta(hours=24))


def enroll_failure_window() -> timedelta:
    """Failed enrollments for one serial older than this no longer count toward its throttle."""
    return getattr(settings, "RTCC_ENROLL_FAILURE_WINDOW", timedelta(minutes=15))


def enroll_max_failures_per_serial() -> int:
    """Guesses at one device's code: a handful per window (the code has 50 bits)."""
    return getattr(settings, "RTCC_ENROLL_MAX_FAILURES_PER_SERIAL", 5)


def enroll_address_window() -> timedelta:
    """The window for failures from one address: short, so that a site behind one NAT address
    is slowed down for a minute at most, while guessing across serials stays hopeless."""
    return getattr(settings, "RTCC_ENROLL_ADDRESS_WINDOW", timedelta(minutes=1))


def enroll_max_failures_per_address() -> int:
    return getattr(settings, "RTCC_ENROLL_MAX_FAILURES_PER_ADDRESS", 20)


def presence_timeout() -> float:
    """Seconds without a sign of life after which a connected device counts as offline."""
    return float(getattr(settings, "RTCC_PRESENCE_TIMEOUT", 120))


def presence_write_interval() -> float:
    """At most one write-through of a device's presence to the database per this many seconds
    (plus connect, disconnect and recording changes). Must stay well below the timeout."""
    return float(getattr(settings, "RTCC_PRESENCE_WRITE_INTERVAL", 30))


def presence_console_interval() -> float:
    """At most one `device.status` console event per device per this many seconds for routine frames."""
    return float(getattr(settings, "RTCC_PRESENCE_CONSOLE_INTERVAL", 5))


def presence_redis_url() -> str | None:
    """Where live presence is kept across processes; None: in this process (the embedded default)."""
    return getattr(settings, "RTCC_PRESENCE_REDIS_URL", settings.ENV.redis_url)


PUSH_TOKEN_MAX = 4096
