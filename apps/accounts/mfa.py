"""TOTP (RFC 6238) second factor through pyotp: secrets encrypted at rest, codes compared in
constant time, each code accepted once (the caller records the step it belongs to)."""

from __future__ import annotations

import base64
import hashlib
import time

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

STEP = 30
DIGITS = 6
ISSUER = "rtcc"


def _fernet() -> Fernet:
    key = hashlib.sha256(("rtcc-totp:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP, issuer=ISSUER)


def new_secret() -> str:
    return pyotp.random_base32()


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def code_at(secret: str, step: int) -> str:
    return _totp(secret).generate_otp(step)


def matching_step(secret: str, otp: str, *, now: float | None = None, window: int = 1) -> int | None:
    """The time step this code belongs to (allowing one step of clock drift), or None.

    pyotp's own verify() answers yes or no; the step is what lets a used code be refused."""
    otp = (otp or "").strip()
    if len(otp) != DIGITS or not otp.isdigit():
        return None
    totp = _totp(secret)
    current = totp.timecode(int(now if now is not None else time.time()))
    found = None
    for step in range(current - window, current + window + 1):  # every step compared: no early exit
        if pyotp.utils.strings_equal(totp.generate_otp(step), otp):
            found = step
    return found


def provisioning_uri(secret: str, username: str) -> str:
    return _totp(secret).provisioning_uri(name=username, issuer_name=ISSUER)
