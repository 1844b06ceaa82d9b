"""Bearer token format shared by people and devices: a readable prefix, 256 random bits."""

from __future__ import annotations

import hashlib
import hmac
import secrets

USER_PREFIX = "rtu_"
DEVICE_PREFIX = "rtd_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def bearer_from_header(value: str | bytes | None) -> str | None:
    """The token in 'Bearer <token>', or None."""
    if not value:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    parts = value.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]
