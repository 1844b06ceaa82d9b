"""Tunables of the integrations, each a Django setting with a default."""

from __future__ import annotations

from django.conf import settings


def push_pool_size() -> int:
    """Concurrent HTTP requests to FCM per send (firebase-admin's send_each thread pool)."""
    return int(getattr(settings, "RTCC_PUSH_POOL_SIZE", 256))


def push_timeout() -> float:
    return float(getattr(settings, "RTCC_PUSH_TIMEOUT", 10.0))


def push_transport() -> str:
    """How FcmBackend talks HTTP: "aiohttp" (one event loop) or "firebase-admin" (send_each)."""
    return str(getattr(settings, "RTCC_PUSH_TRANSPORT", "aiohttp"))


def leftover_batch() -> int:
    """Objects the leftover sweep deletes again per run, at most."""
    return int(getattr(settings, "RTCC_STORE_LEFTOVER_BATCH", 500))
