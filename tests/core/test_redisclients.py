"""The process-wide Redis clients (apps/core/redisclients.py), against the real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync

from apps.core.redisclients import ASYNC_CONNECTIONS, shared_async_client

pytestmark = pytest.mark.services


def test_a_burst_of_reads_on_the_event_loop_shares_a_few_connections(redis_url):
    """200 reads in flight at once (viewers who all came in the same second) are all answered, over
    at most ASYNC_CONNECTIONS connections: a burst waits for a connection instead of opening one
    per request."""
    key = f"rtcc:test:burst:{uuid.uuid4().hex}"

    async def burst():
        client = shared_async_client(redis_url)
        await client.set(key, b"segment bytes", ex=60)
        answers = await asyncio.gather(*(client.get(key) for _ in range(200)))
        pool = client.connection_pool
        opened = len(pool._available_connections) + len(pool._in_use_connections)
        await client.delete(key)
        await pool.disconnect()
        return answers, opened

    answers, opened = async_to_sync(burst)()
    assert answers == [b"segment bytes"] * 200
    assert 1 <= opened <= ASYNC_CONNECTIONS < 200


def test_each_event_loop_has_its_own_client(redis_url):
    async def client_of_this_loop():
        client = shared_async_client(redis_url)
        assert shared_async_client(redis_url) is client  # one per loop and URL
        assert await client.ping()
        await client.connection_pool.disconnect()
        return client

    assert async_to_sync(client_of_this_loop)() is not async_to_sync(client_of_this_loop)()
