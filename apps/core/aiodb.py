"""PostgreSQL from the event loop, with no worker thread: for the few ASGI fast paths whose whole
database work is one or two fixed statements (apps/control/fastpath.py).

Under daphne every hop to a worker thread for Django's database work makes the request wait for
the GIL behind the event loop, which serves every socket of the process: with a thousand device
sockets in a process, those waits were most of a command POST's time. Here a statement runs on the
loop itself over psycopg's async connection, from a small pool per event loop, in autocommit: a
statement is its own transaction, so several writes that must stand or fall together are written
as ONE statement (data-modifying CTEs).

Only where the database is PostgreSQL and reachable from here; `available()` says whether it is:
for RETRY_AFTER_S after a connection could not be had, it says no, and the callers' ORM paths
answer (failing fast while the database is down, working as soon as it is back), instead of each
waiting for the pool (which itself gives up once its attempt to connect was refused, well before
CHECKOUT_SECONDS: rtcc.postgresql.base.AsyncFailFastPool). A pooled connection is checked before
it is lent as rtcc's sync pool does (rtcc/postgresql/base.py): with a round trip only when its
socket says PostgreSQL closed it, or after it sat idle for a while.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.db import connections
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from rtcc.postgresql.base import AsyncFailFastPool, mark_returned, needs_round_trip

POOL_SIZE = 4  # statements in flight at once per process; the loop runs one at a time anyway
CHECKOUT_SECONDS = 5.0
RETRY_AFTER_S = 5.0

_unreachable_until: dict[str, float] = {}

_pools: dict[tuple[asyncio.AbstractEventLoop, str], AsyncConnectionPool] = {}  # per loop and database


class NotStarted(Exception):
    """The statement was never sent (no connection could be had): nothing was written."""


def available(alias: str = "default") -> bool:
    if connections[alias].vendor != "postgresql":
        return False
    until = _unreachable_until.get(alias)
    return until is None or time.monotonic() >= until


async def _mark_returned(conn: AsyncConnection) -> None:
    mark_returned(conn)


async def _check(conn: AsyncConnection) -> None:
    if needs_round_trip(conn):
        await AsyncConnectionPool.check_connection(conn)


# These few statements run thousands of times a minute with the same text: prepared on a
# connection once it has run one twice, PostgreSQL stops planning them on every run (the command's
# statement planned in about 0.4 ms, as long as it then ran). Django turns preparing off for its own
# connections unless the database's OPTIONS say otherwise (a pooler that cannot keep prepared
# statements): the same OPTIONS key turns it off here.
PREPARE_THRESHOLD = 2


def _connect_kwargs(alias: str) -> dict[str, Any]:
    params = dict(connections[alias].get_connection_params())
    params.pop("cursor_factory", None)  # Django's sync cursor classes
    params.pop("pool", None)
    params["autocommit"] = True
    options = connections[alias].settings_dict.get("OPTIONS") or {}
    params["prepare_threshold"] = options.get("prepare_threshold", PREPARE_THRESHOLD)
    return params


def discard_closed_loops() -> None:
    """Forgets the pools of event loops that have closed (a finished async_to_sync call, a test's
    loop), closing their idle connections without the loop, which is gone: else each would hold
    its connections open for the life of the process."""
    for key in [key for key in _pools if key[0].is_closed()]:
        pool = _pools.pop(key)
        for conn in list(getattr(pool, "_pool", ())):  # the idle ones; a busy one closes when collected
            conn.pgconn.finish()


async def _pool(alias: str) -> AsyncConnectionPool:
    key = (asyncio.get_running_loop(), alias)
    pool = _pools.get(key)
    if pool is None:
        discard_closed_loops()
        pool = AsyncFailFastPool(
            kwargs=_connect_kwargs(alias),
            min_size=0,
            max_size=POOL_SIZE,
            open=False,
            check=_check,
            reset=_mark_returned,
            timeout=CHECKOUT_SECONDS,
            name=f"rtcc-async-{alias}",
        )
        _pools[key] = pool
        await pool.open(wait=False)
    return pool


async def fetchone(sql: str, params: list[Any], *, alias: str = "default") -> tuple | None:
    """Runs one statement (its own transaction) and returns its first row, if any.

    Raises NotStarted when no connection could be had (nothing was sent, so nothing was written);
    any other error comes from the statement itself, which PostgreSQL applied entirely or not at
    all (for a connection lost mid-statement, the caller cannot know which)."""
    pool = await _pool(alias)
    try:
        conn = await pool.getconn()
    except Exception as exc:
        _unreachable_until[alias] = time.monotonic() + RETRY_AFTER_S
        raise NotStarted(str(exc)) from exc
    _unreachable_until.pop(alias, None)
    try:
        cursor = await conn.execute(sql, params)
        return await cursor.fetchone() if cursor.description is not None else None
    finally:
        await pool.putconn(conn)


async def close_all() -> None:
    """Closes this loop's pools (tests, shutdown)."""
    loop = asyncio.get_running_loop()
    for key in [key for key in _pools if key[0] is loop]:
        await _pools.pop(key).close()
