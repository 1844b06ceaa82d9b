"""TOTP (RFC 6238) second factor: secrets encrypted at rest, codes compared in constant time,
each code accepted once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

STEP = 30
DIGITS = 6


def _fernet() -> Fernet:
    key = hashlib.sha256(("rtcc-totp:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode()


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def code_at(secret: str, step: int) -> str:
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, otp: str, *, now: float | None = None, window: int = 1) -> int | None:
    """The time step this code belongs to (allowing one step of clock drift), or None."""
    otp = (otp or "").strip()
    if len(otp) != DIGITS or not otp.isdigit():
        return None
    current = int((now if now is not None else time.time()) // STEP)
    found = None
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(code_at(secret, step), otp):
            found = step
    return found


def provisioning_uri(secret: str, username: str) -> str:
    return (
        f"otpauth://totp/rtcc:{quote(username)}?secret={secret}&issuer=rtcc"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP}"
    )
