"""The pooled connections' check (rtcc/postgresql/base.py), against the real PostgreSQL."""

import time

import psycopg
import pytest
from django.db import connection, connections
from psycopg_pool import ConnectionPool

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
