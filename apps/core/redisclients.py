"""One process-wide Redis client per URL, for small requests (the token cache's generation
counter, a cancel closing a command's fast claim, live playlists): a connection pool shared by
every thread of the process instead of a client (and a connection) per call. The asyncio client
is kept per event loop (its connections belong to the loop that opened them)."""

from __future__ import annotations

import asyncio
import threading
import weakref

_clients: dict[tuple[str, bool], object] = {}
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {(url, decode): client}
_lock = threading.Lock()


def shared_client(url: str, *, decode_responses: bool = False):
    """The client for `url` (2 s timeouts, to connect and per answer: a Redis that does not
    answer is an error the caller handles, never a hang)."""
    with _lock:
        found = _clients.get((url, decode_responses))
        if found is None:
            import redis

            found = _clients[(url, decode_responses)] = redis.Redis.from_url(
                url, decode_responses=decode_responses, socket_timeout=2, socket_connect_timeout=2
            )
        return found


# Connections of one asyncio client. A request holds one only for its round trip (a fraction of a
# millisecond), so a few serve a whole process, and a burst waits for them (up to the 2 s of the
# timeouts) instead of opening one more for each request in flight: when 200 viewers opened live
# views in the same second, opening a hundred connections per process was a tenth of the loop's time.
ASYNC_CONNECTIONS = 16


def shared_async_client(url: str, *, decode_responses: bool = False):
    """The asyncio client for `url` on the running event loop (2 s timeouts, as above; at most
    ASYNC_CONNECTIONS connections)."""
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get((url, decode_responses))
    if found is None:
        import redis.asyncio

        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=ASYNC_CONNECTIONS,
            timeout=2,
            socket_timeout=2,
            socket_connect_timeout=2,
            decode_responses=decode_responses,
        )
        found = per_loop[(url, decode_responses)] = redis.asyncio.Redis(connection_pool=pool)
    return found
