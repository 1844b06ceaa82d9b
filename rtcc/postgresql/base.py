"""Django's PostgreSQL backend, with a cheaper check of a pooled connection before it is lent.

With CONN_HEALTH_CHECKS, Django gives psycopg_pool its own check, which sends an empty query on
every checkout: one more database round trip for every request and every worker-thread hop, the
largest single cost of a cached-token API call. Here a connection is checked that way only when
something says it may be dead:

- its socket is readable while it sat idle in the pool: PostgreSQL closed it (a restart, a
  terminated backend: the FIN, or the FATAL message it sends first, is waiting), or
- it sat idle longer than IDLE_CHECK_SECONDS (a connection dropped silently on the network shows
  nothing on its socket).

A connection that fails the check is discarded and the pool lends another, or waits for a new one
(up to the pool's timeout), as before: a PostgreSQL restart changes nothing for a caller.

A checkout also stops waiting as soon as the pool's last attempt to connect failed (FailFastPool):
while PostgreSQL is down, a request answers its 503 within about a second, not after the pool's
whole timeout (10 s, then 15 s for a command POST that tried the event loop's pool first).
"""

from __future__ import annotations

import select
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg import OperationalError
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout
from psycopg_pool.pool import AddConnection
from psycopg_pool.pool_async import AddConnection as AsyncAddConnection

IDLE_CHECK_SECONDS = 30.0

# A waiting checkout looks this often whether the pool's attempts to connect are being refused.
REFUSED_POLL_SECONDS = 0.5
# While it cannot connect, a pool tries again at least this often (psycopg_pool doubles its pause
# after each failure, without a bound: after a 30 s outage the next try came up to 30 s after
# PostgreSQL was back, and every request until then was a 503).
RECONNECT_EVERY_SECONDS = 1.0


def mark_returned(conn) -> None:
    """The pool's `reset` callback: when the connection came back."""
    conn._rtcc_returned_at = time.monotonic()


def socket_readable(conn) -> bool:
    """Whether an idle connection's socket has something to read: nothing should be waiting, so
    PostgreSQL closed it (the FIN, or the FATAL message it sends first). Sync or async psycopg.

    poll(), not select(): a web process holding a thousand websockets gives its connections file
    descriptors above select()'s limit of 1024, where select() raises, the pool took every
    connection for dead, and each checkout waited for a new one."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def needs_round_trip(conn) -> bool:
    """Raises for a connection known to be unusable; else whether it may be dead and must be
    checked with a round trip (sync or async psycopg)."""
    if conn.closed or conn.pgconn.transaction_status == TransactionStatus.UNKNOWN:
        raise OperationalError("the connection is closed")
    idle = time.monotonic() - getattr(conn, "_rtcc_returned_at", float("-inf"))
    return idle > IDLE_CHECK_SECONDS or socket_readable(conn)


def check(conn) -> None:
    """The pool's `check` callback: returns quietly for a usable connection, raises otherwise."""
    if needs_round_trip(conn):
        ConnectionPool.check_connection(conn)


def _wait_slice(deadline: float) -> float:
    return max(0.0, min(deadline - time.monotonic(), REFUSED_POLL_SECONDS))


class PoolRefused(PoolTimeout):
    """No connection: PostgreSQL refused the pool's last attempt to connect."""


def _given_up(pool: FailFastPool | AsyncFailFastPool, timeout: float, deadline: float) -> PoolTimeout | None:
    """Why a checkout stops waiting now, or None to wait on (its waits are slices of its timeout:
    psycopg_pool's own error would name a slice)."""
    if pool.refused:
        return PoolRefused("couldn't get a connection: PostgreSQL refused the pool's last attempt to connect")
    if time.monotonic() >= deadline:
        return PoolTimeout(f"couldn't get a connection after {timeout:.2f} sec")
    return None


class FailFastPool(ConnectionPool):
    """psycopg_pool's pool, whose checkout gives up (PoolTimeout) once the pool's last attempt to
    connect failed: PostgreSQL down, restarting or refusing connections. A pool that merely has
    every connection lent out still waits up to its timeout, as before. The pool tries to connect
    again every RECONNECT_EVERY_SECONDS at most; the first connection it makes ends that."""

    refused = False

    def schedule_task(self, task, delay: float) -> None:
        if isinstance(task, AddConnection):
            delay = min(delay, RECONNECT_EVERY_SECONDS)
        super().schedule_task(task, delay)

    def _connect(self, timeout: float | None = None):
        try:
            conn = super()._connect(timeout)
        except Exception:
            self.refused = True
            raise
        self.refused = False
        return conn

    def getconn(self, timeout: float | None = None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                return super().getconn(_wait_slice(deadline))
            except PoolTimeout as exc:
                if given_up := _given_up(self, timeout, deadline):
                    raise given_up from exc


class AsyncFailFastPool(AsyncConnectionPool):
    """FailFastPool for psycopg's async connections (apps/core/aiodb.py)."""

    refused = False

    async def schedule_task(self, task, delay: float) -> None:
        if isinstance(task, AsyncAddConnection):
            delay = min(delay, RECONNECT_EVERY_SECONDS)
        await super().schedule_task(task, delay)

    async def _connect(self, timeout: float | None = None):
        try:
            conn = await super()._connect(timeout)
        except Exception:
            self.refused = True
            raise
        self.refused = False
        return conn

    async def getconn(self, timeout: float | None = None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await super().getconn(_wait_slice(deadline))
            except PoolTimeout as exc:
                if given_up := _given_up(self, timeout, deadline):
                    raise given_up from exc


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        """As Django's (django/db/backends/postgresql/base.py), with `check` and `reset` above, and
        a FailFastPool."""
        django: Any = self  # what Django's backend has and its type stubs do not show
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in django._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets it as it needs later on
            pool = FailFastPool(
                kwargs=connect_kwargs,
                open=False,
                configure=django._configure_connection,
                check=check,
                reset=mark_returned,
                **({} if pool_options is True else pool_options),
            )
            django._connection_pools.setdefault(self.alias, pool)  # the first of racing threads wins
        return django._connection_pools[self.alias]
