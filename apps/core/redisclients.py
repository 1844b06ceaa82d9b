"""One process-wide synchronous Redis client per URL, for small requests from sync code (the
token cache's generation counter, a cancel closing a command's fast claim): a connection pool
shared by every thread of the process instead of a client (and a connection) per call."""

from __future__ import annotations

import threading

_clients: dict[str, object] = {}
_lock = threading.Lock()


def shared_client(url: str):
    """The client for `url` (2 s socket timeout: a Redis that does not answer is an error the
    caller handles, never a hang)."""
    with _lock:
        found = _clients.get(url)
        if found is None:
            import redis

            found = _clients[url] = redis.Redis.from_url(url, socket_timeout=2)
        return found
