"""The pooled connections' check and the pools' behaviour while PostgreSQL refuses connections
(rtcc/postgresql/base.py), against the real PostgreSQL."""

import asyncio
import socket
import threading
import time

import psycopg
import pytest
from django.db import connection, connections
from psycopg_pool import ConnectionPool, PoolTimeout

from rtcc.postgresql import base as dbpool


@pytest.fixture
def conninfo(postgres_db):
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if isinstance(v, str | int)})


def one_connection_pool(conninfo) -> ConnectionPool:
    """A pool of one connection, checked as rtcc's backend checks them."""
    return ConnectionPool(
        conninfo,
        kwargs={"autocommit": True},  # as Django lends them
        min_size=1,
        max_size=1,
        check=dbpool.check,
        reset=dbpool.mark_returned,
        timeout=10,
    )


@pytest.fixture
def pool(conninfo):
    with one_connection_pool(conninfo) as pool:
        yield pool


def last_query(conninfo, pid: int) -> str:
    with psycopg.connect(conninfo, autocommit=True) as admin:
        return admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def test_a_connection_back_moments_ago_is_handed_out_without_a_round_trip(pool, conninfo):
    with pool.connection() as conn:
        conn.execute("SELECT 'rtcc-marker'")
        pid = conn.info.backend_pid
    with pool.connection() as conn:
        assert conn.info.backend_pid == pid
        assert last_query(conninfo, pid) == "SELECT 'rtcc-marker'"  # no check query was sent


def test_a_connection_idle_for_long_is_checked_with_a_round_trip(pool, conninfo, monkeypatch):
    monkeypatch.setattr(dbpool, "IDLE_CHECK_SECONDS", 0.0)
    with pool.connection() as conn:
        conn.execute("SELECT 'rtcc-marker'")
        pid = conn.info.backend_pid
    time.sleep(0.01)
    with pool.connection() as conn:
        assert last_query(conninfo, pid) == ""  # psycopg_pool's check: an empty query


def test_a_connection_postgresql_closed_is_replaced_without_an_error(pool, conninfo):
    with pool.connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(conninfo, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        for _ in range(100):
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                break
            time.sleep(0.02)
    with pool.connection() as conn:  # returned moments ago, yet its socket tells it is gone
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
        assert conn.info.backend_pid != pid


def test_the_services_run_uses_this_backend(postgres_db):
    assert type(connections["default"]).__module__ == "rtcc.postgresql.base"
    assert connections["default"].vendor == "postgresql"


def test_a_connection_with_a_file_descriptor_above_1024_is_lent_without_a_round_trip(conninfo):
    # A web process with a thousand websockets open: its database connections get high numbers.
    import os

    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with one_connection_pool(conninfo) as pool:
            with pool.connection() as conn:
                assert conn.fileno() > 1024
                conn.execute("SELECT 'rtcc-marker'")
                pid = conn.info.backend_pid
            with pool.connection() as conn:
                assert conn.info.backend_pid == pid  # the same connection, not taken for dead
                assert last_query(conninfo, pid) == "SELECT 'rtcc-marker'"
    finally:
        for fd in held:
            os.close(fd)


# While PostgreSQL refuses connections ---------------------------------------------------------


class Forwarder:
    """A port that refuses connections until `open()`, then passes each to PostgreSQL (the
    database going down and coming back, without stopping the server the other tests use)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()  # nothing listens there now: a connect is refused
        self.listener: socket.socket | None = None
        self.held: list[socket.socket] = []

    def open(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client = listener.accept()[0]
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.held += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
        for held in self.held:
            held.close()


@pytest.fixture
def forwarder(conninfo):
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    forwarder = Forwarder((params.get("host") or "127.0.0.1", int(params.get("port") or 5432)))
    yield forwarder
    forwarder.close()


def in_a_thread(call, *, within: float):
    """call()'s outcome, ("returned", value) or ("raised", exc); ("waiting", None) when it has not
    ended `within` seconds (the thread is left to end by itself)."""
    outcome: list = [("waiting", None)]

    def run() -> None:
        try:
            outcome[0] = ("returned", call())
        except Exception as exc:
            outcome[0] = ("raised", exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(within)
    return outcome[0]


def refused_conninfo(port: int) -> str:
    return f"host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5"


def test_a_checkout_gives_up_once_postgresql_refuses_connections_not_after_the_pool_timeout(forwarder):
    # The pool would wait ten minutes for a connection; a request answers its 503 at once instead.
    pool = dbpool.FailFastPool(refused_conninfo(forwarder.port), min_size=1, max_size=4, timeout=600, open=False)
    pool.open(wait=False)
    try:
        state, value = in_a_thread(pool.getconn, within=30)
    finally:
        pool.close(timeout=5)
    assert state == "raised", state
    assert isinstance(value, PoolTimeout)


def test_an_async_checkout_gives_up_once_postgresql_refuses_connections(forwarder):
    async def checkout():
        pool = dbpool.AsyncFailFastPool(
            refused_conninfo(forwarder.port), min_size=0, max_size=4, timeout=600, open=False
        )
        await pool.open(wait=False)
        try:
            async with asyncio.timeout(30):
                await pool.getconn()
        finally:
            await pool.close(timeout=5)

    with pytest.raises(PoolTimeout):
        asyncio.run(checkout())


def test_a_checkout_waits_for_the_connection_another_request_gives_back(conninfo):
    # PostgreSQL answers, every connection is lent out: the checkout waits for one, as before.
    with dbpool.FailFastPool(conninfo, kwargs={"autocommit": True}, min_size=1, max_size=1, timeout=30) as pool:
        held = pool.getconn()
        pid = held.info.backend_pid
        threading.Timer(1.5, pool.putconn, args=(held,)).start()  # three of the checkout's looks
        with pool.connection() as conn:
            assert conn.info.backend_pid == pid
            assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


def test_the_pool_lends_again_soon_after_postgresql_answers_after_a_long_outage(forwarder):
    # Two connections at most: both are being retried, as every one of a web process's pool is
    # after a long outage, so no checkout can make the pool try once more on its own.
    params = psycopg.conninfo.conninfo_to_dict(refused_conninfo(forwarder.port))
    pool = dbpool.FailFastPool(
        psycopg.conninfo.make_conninfo(**params), kwargs={"autocommit": True}, min_size=1, max_size=2, open=False
    )
    pool.open(wait=False)

    def lent_within(seconds: float):
        until = time.monotonic() + seconds
        while True:
            try:
                with pool.connection() as conn:
                    return conn.execute("SELECT 41 + 1").fetchone()
            except PoolTimeout:
                if time.monotonic() > until:
                    return None

    try:
        # Ten seconds refused, requests coming in all along (each is refused at once). psycopg_pool
        # alone would try to connect next 15 s after its first failure, 5 s after the database is
        # back; every request until then would be refused.
        assert lent_within(10) is None
        forwarder.open()
        assert lent_within(4) == (42,)
    finally:
        pool.close(timeout=5)
