"""DRF authentication for devices: `Authorization: Bearer rtd_...` from enrollment."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from apps.accounts.tokens import DEVICE_PREFIX, bearer_from_header, hash_token, same_hash

from .models import Device


def device_for_token(token: str | None) -> Device | None:
    """The enrolled, unrevoked device behind a bearer token, or None (also usable from websockets)."""
    if not token or not token.startswith(DEVICE_PREFIX):
        return None
    digest = hash_token(token)
    device = Device.objects.filter(token_hash=digest, revoked_at__isnull=True).first()
    if device is None or not same_hash(device.token_hash or "", digest):
        return None
    return device


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        token = bearer_from_header(authentication.get_authorization_header(request))
        if token is None or not token.startswith(DEVICE_PREFIX):
            return None
        device = device_for_token(token)
        if device is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked device token.")
        return device, token

    def authenticate_header(self, request):
        return self.keyword
