"""The client's address and scheme behind the TLS proxy (apps/core/proxies.py): only what the
trusted proxies wrote counts; what a client wrote itself in X-Forwarded-For does not."""

from __future__ import annotations

import pytest

from apps.core.proxies import forwarded_scope


def scope(*headers: tuple[bytes, bytes], kind: str = "http") -> dict:
    return {"type": kind, "scheme": "http", "client": ("10.0.0.2", 51234), "headers": list(headers)}


@pytest.mark.parametrize(
    ("proxies", "headers", "client"),
    [
        (0, [(b"x-forwarded-for", b"203.0.113.5")], "10.0.0.2"),  # no proxy: a client's header is ignored
        (1, [(b"x-forwarded-for", b"203.0.113.5")], "203.0.113.5"),
        (1, [(b"x-forwarded-for", b"198.51.100.20, 203.0.113.5")], "203.0.113.5"),  # the forged one is left
        (1, [(b"x-forwarded-for", b"198.51.100.20"), (b"x-forwarded-for", b"203.0.113.5")], "203.0.113.5"),
        (2, [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.5, 10.1.1.1")], "203.0.113.5"),
        (2, [(b"x-forwarded-for", b"203.0.113.5")], "10.0.0.2"),  # fewer than the proxies: not through them
        (1, [(b"x-forwarded-for", b"not-an-address")], "10.0.0.2"),
        (1, [(b"x-forwarded-for", b"[2001:db8::7]:443")], "2001:db8::7"),
        (1, [(b"x-forwarded-for", b"203.0.113.5:8443")], "203.0.113.5"),
        (1, [], "10.0.0.2"),
    ],
)
def test_the_client_is_the_address_the_outermost_trusted_proxy_saw(proxies, headers, client):
    assert forwarded_scope(scope(*headers), proxies)["client"][0] == client


def test_the_scheme_comes_from_the_proxy_for_requests_and_sockets():
    proto = (b"x-forwarded-proto", b"https")
    assert forwarded_scope(scope(proto), 1)["scheme"] == "https"
    assert forwarded_scope(scope(proto, kind="websocket"), 1)["scheme"] == "wss"
    assert forwarded_scope(scope(proto), 0)["scheme"] == "http"  # no trusted proxy: not believed
    assert forwarded_scope(scope((b"x-forwarded-proto", b"gopher")), 1)["scheme"] == "http"
