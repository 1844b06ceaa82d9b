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
from psycopg_pool import ConnectionPool

IDLE_CHECK_SECONDS = 30.0


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


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        """As Django's (django/db/backends/postgresql/base.py), with `check` and `reset` above."""
        django: Any = self  # what Django's backend has and its type stubs do not show
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in django._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets it as it needs later on
            pool = ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=django._configure_connection,
                check=check,
                reset=mark_returned,
                **({} if pool_options is True else pool_options),
            )
            django._connection_pools.setdefault(self.alias, pool)  # the first of racing threads wins
        return django._connection_pools[self.alias]
