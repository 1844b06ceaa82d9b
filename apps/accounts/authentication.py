"""DRF authentication for people: bearer API tokens, and the console's session."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken
from .tokens import USER_PREFIX, bearer_from_header, hash_token, same_hash


class UserTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer rtu_...`. Other bearer tokens are left to the next class."""

    keyword = "Bearer"

    def authenticate(self, request):
        token = bearer_from_header(authentication.get_authorization_header(request))
        if token is None or not token.startswith(USER_PREFIX):
            return None
        digest = hash_token(token)
        record = ApiToken.objects.select_related("user").filter(key_hash=digest).first()
        if record is None or not same_hash(record.key_hash, digest):
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not record.is_usable or not record.user.is_active:
            raise exceptions.AuthenticationFailed("Token expired or revoked.")
        now = timezone.now()
        if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
        return record.user, record

    def authenticate_header(self, request):
        return self.keyword


class ConsoleSessionAuthentication(authentication.SessionAuthentication):
    """The console's Django session, with CSRF enforced on unsafe methods."""


def token_for_bearer(token: str) -> ApiToken | None:
    """For websockets: the usable API token behind a bearer string, or None."""
    if not token or not token.startswith(USER_PREFIX):
        return None
    record = ApiToken.objects.select_related("user").filter(key_hash=hash_token(token)).first()
    if record is None or not record.is_usable or not record.user.is_active:
        return None
    return record
