"""Who acts and from which address: what an audited service needs to know of a request.

Views build one from their request (`AuditContext.of(request)`), consumers from their scope,
tasks use `SYSTEM`; services take it instead of the request itself, so they can be called from
anywhere and still record where a write came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def client_ip(request: Any) -> str | None:
    """The client address of an HttpRequest, a DRF request or an ASGI scope."""
    if request is None:
        return None
    meta = getattr(request, "META", None)
    if meta is not None:
        return meta.get("REMOTE_ADDR") or None
    scope = request if isinstance(request, dict) else getattr(request, "scope", {})
    client = scope.get("client") if isinstance(scope, dict) else None
    return client[0] if client else None


def _user_of(request: Any) -> Any:
    user = request.get("user") if isinstance(request, dict) else getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


@dataclass(frozen=True)
class AuditContext:
    actor: Any = None  # a user, a device, or None for the system / an anonymous caller
    source_ip: str | None = None

    @classmethod
    def of(cls, request: Any) -> AuditContext:
        """From an HttpRequest, a DRF request or an ASGI scope: its authenticated principal, if any."""
        return cls(actor=_user_of(request), source_ip=client_ip(request))

    def as_actor(self, actor: Any) -> AuditContext:
        """The same address with another actor (a login's user, once known)."""
        return AuditContext(actor=actor, source_ip=self.source_ip)


SYSTEM = AuditContext()
