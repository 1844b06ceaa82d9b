"""The client behind the TLS proxy: its address and scheme from the proxy's headers, trusting
only what the proxies themselves wrote (RTCC_TRUSTED_PROXIES, how many stand in front of rtcc).

Each proxy appends the address it got the request from to `X-Forwarded-For`; whatever the client
sent itself comes before. The client is therefore the N-th address from the right, for N trusted
proxies; the leftmost (what daphne's own --proxy-headers takes) is whatever the client wrote: a
forged address in the audit trail, a login lockout by address evaded by changing it each try, or
a stranger locking the center's own address out. With no trusted proxy the headers are ignored
and the peer's address stands. The scheme comes from the last `X-Forwarded-Proto` the same way.
"""

from __future__ import annotations

import ipaddress

SCHEMES = {"http": {"http": "http", "https": "https"}, "websocket": {"http": "ws", "https": "wss"}}


def _values(headers, name: bytes) -> list[str]:
    """Every comma-separated value of a header, in order, over all its lines."""
    out: list[str] = []
    for key, value in headers:
        if key.lower() == name:
            out += [part.strip() for part in value.decode("latin-1").split(",")]
    return out


def _address(value: str) -> str | None:
    host = value.strip()
    if host.startswith("[") and "]" in host:  # [v6]:port
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:  # v4:port
        host = host.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def forwarded_scope(scope: dict, proxies: int) -> dict:
    """The scope as the client sent it through `proxies` trusted proxies: `client` the address the
    outermost trusted proxy got the request from, `scheme` the one the last proxy reports. A request
    that carries fewer addresses than there are proxies did not come through them all: unchanged."""
    if proxies <= 0:
        return scope
    headers = scope.get("headers") or ()
    changed = dict(scope)
    chain = _values(headers, b"x-forwarded-for")
    if len(chain) >= proxies and (client := _address(chain[-proxies])) is not None:
        changed["client"] = (client, 0)
    protos = _values(headers, b"x-forwarded-proto")
    scheme = SCHEMES.get(scope["type"], {}).get(protos[-1].lower()) if protos else None
    if scheme is not None:
        changed["scheme"] = scheme
    return changed


class ForwardedFor:
    """ASGI wrapper: forwarded_scope for every HTTP request and websocket, outside everything else."""

    def __init__(self, app, proxies: int) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope, receive, send):
        if self.proxies and scope["type"] in SCHEMES:
            scope = forwarded_scope(scope, self.proxies)
        return await self.app(scope, receive, send)
