"""DRF authentication for devices: `Authorization: Bearer rtd_...` from enrollment."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from apps.accounts.tokens import DEVICE_PREFIX, bearer_from_header, hash_token, same_hash

from .models import Device


def device_token_filter(token: str | None, *, via: str = "") -> dict | None:
    """The query filter that finds the enrolled, unrevoked device behind a bearer token (through
    the relation `via`, e.g. "device__", from another model), or None for a token that cannot be
    a device's. Whatever it finds, check it with token_matches()."""
    if not token or not token.startswith(DEVICE_PREFIX):
        return None
    return {f"{via}token_hash": hash_token(token), f"{via}revoked_at__isnull": True}


def token_matches(device: Device | None, token: str) -> bool:
    return device is not None and same_hash(device.token_hash or "", hash_token(token))


def device_for_token(token: str | None, *, with_officer: bool = False) -> Device | None:
    """The enrolled, unrevoked device behind a bearer token, or None (also usable from websockets).
    `with_officer`: its assigned officer read in the same query (a phone's API request checks that
    officer is active: IsOfficerPhone), not by a second query per request."""
    found = device_token_filter(token)
    if found is None:
        return None
    devices = Device.objects.select_related("officer") if with_officer else Device.objects.all()
    device = devices.filter(**found).first()
    return device if token_matches(device, token or "") else None


def device_token_revoked(token: str | None) -> bool:
    """Whether a token that authenticates nobody is a revoked device's (its socket is then
    refused with 4403, not 4401: the device is known, and no longer allowed)."""
    if not token or not token.startswith(DEVICE_PREFIX):
        return False
    device = Device.objects.filter(token_hash=hash_token(token), revoked_at__isnull=False).first()
    return token_matches(device, token)


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        token = bearer_from_header(authentication.get_authorization_header(request))
        if token is None or not token.startswith(DEVICE_PREFIX):
            return None
        device = device_for_token(token, with_officer=True)
        if device is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked device token.")
        return device, token

    def authenticate_header(self, request):
        return self.keyword
