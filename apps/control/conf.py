"""Tunables of remote recording control, overridable with RTCC_COMMAND_* settings."""

from __future__ import annotations

from django.conf import settings


def default_ttl() -> int:
    return int(getattr(settings, "RTCC_COMMAND_DEFAULT_TTL", 120))


def min_ttl() -> int:
    # 1 s, not more: a short TTL is how a client says "now or never" (and how expiry gets tested).
    return int(getattr(settings, "RTCC_COMMAND_MIN_TTL", 1))


def max_ttl() -> int:
    return int(getattr(settings, "RTCC_COMMAND_MAX_TTL", 3600))


def result_grace_seconds() -> int:
    """How long after its expiry a delivered command may still report a result before it is failed."""
    return int(getattr(settings, "RTCC_COMMAND_RESULT_GRACE", 600))


def expire_batch() -> int:
    return int(getattr(settings, "RTCC_COMMAND_EXPIRE_BATCH", 500))


def resend_after_seconds() -> int:
    """A command still queued this long after creation is sent to its device's group again."""
    return int(getattr(settings, "RTCC_COMMAND_RESEND_AFTER", 5))


def notice_lease_seconds() -> int:
    """How long one send of an officer notice may take before the sweep sends it again (a killed worker)."""
    return int(getattr(settings, "RTCC_COMMAND_NOTICE_LEASE", 15))


def notice_max_attempts() -> int:
    return int(getattr(settings, "RTCC_COMMAND_NOTICE_MAX_ATTEMPTS", 20))


REASON_MAX = 500
ERROR_MAX = 1000
IDEMPOTENCY_KEY_MAX = 200


# The device socket's frame budget: a token bucket per connection, so one device sending as fast
# as it can costs the others nothing. Status (and unusable) frames and command answers (ack,
# result) have separate buckets: status spam never starves the answers to commands.
def device_frame_rate() -> float:
    """Status frames per second a device may send, sustained (firmware sends one every ~10 s)."""
    return float(getattr(settings, "RTCC_DEVICE_FRAME_RATE", 5))


def device_frame_burst() -> float:
    """Status frames a device may send at once on top of the sustained rate (a reconnect, a change)."""
    return float(getattr(settings, "RTCC_DEVICE_FRAME_BURST", 20))


def device_answer_rate() -> float:
    """`ack`/`result` frames per second, sustained: two per command, and commands are rare."""
    return float(getattr(settings, "RTCC_DEVICE_ANSWER_RATE", 20))


def device_answer_burst() -> float:
    return float(getattr(settings, "RTCC_DEVICE_ANSWER_BURST", 100))


def device_flood_close_after() -> float:
    """A device over budget this many seconds in a row (at least one frame refused per second)
    is disconnected with close code 4429; before that its excess frames are dropped."""
    return float(getattr(settings, "RTCC_DEVICE_FLOOD_CLOSE_AFTER", 5))
