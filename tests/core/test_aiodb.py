"""Statements from the event loop (apps/core/aiodb.py) against the real PostgreSQL: when no
connection can be had, the callers are sent to their ORM paths for a while instead of each waiting
for the pool, and the loop's statements are tried again afterwards."""

from __future__ import annotations

import socket
import time

import pytest
from asgiref.sync import async_to_sync
from django.db import connections

from apps.core import aiodb

pytestmark = pytest.mark.django_db(transaction=True)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens on it once the socket is closed


@pytest.fixture
def unreachable(postgres_db):
    connections.settings["unreachable"] = {**connections.settings["default"], "PORT": str(closed_port())}
    yield "unreachable"
    if "unreachable" in connections:
        del connections["unreachable"]
    del connections.settings["unreachable"]


def fetch(sql: str, *, alias: str):
    async def scenario():
        try:
            return await aiodb.fetchone(sql, [], alias=alias)
        finally:
            await aiodb.close_all()

    return async_to_sync(scenario)()


def test_an_unreachable_database_goes_to_the_orm_for_a_while_then_is_tried_again(unreachable, monkeypatch):
    monkeypatch.setattr(aiodb, "CHECKOUT_SECONDS", 0.5)
    monkeypatch.setattr(aiodb, "RETRY_AFTER_S", 1.0)
    assert aiodb.available(unreachable)

    with pytest.raises(aiodb.NotStarted):
        fetch("SELECT 1", alias=unreachable)
    assert not aiodb.available(unreachable)  # its callers answer through the ORM meanwhile
    assert aiodb.available()  # another database is not affected
    assert fetch("SELECT 41 + 1", alias="default") == (42,)  # each database has its own pool

    time.sleep(1.1)
    assert aiodb.available(unreachable)  # tried again
