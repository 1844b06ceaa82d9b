"""rtcc's channel layer (apps/core/layers.py) against the real Redis: group messages, capacity and
expiry behave as channels_redis' own, with fewer round trips."""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer as PlainLayer

from apps.core.layers import RedisChannelLayer


def layer(redis_url: str, cls=RedisChannelLayer, **config):
    prefix = f"rtcc-test-{uuid.uuid4().hex[:8]}"
    return cls(hosts=[{"address": redis_url}], prefix=prefix, **config)


async def receive(layer_, channel: str, timeout: float = 10) -> dict:
    return await asyncio.wait_for(layer_.receive(channel), timeout)


async def nothing_for(layer_, channel: str) -> bool:
    try:
        await asyncio.wait_for(layer_.receive(channel), 0.5)
    except TimeoutError:
        return True
    return False


def test_a_group_message_reaches_every_member_in_every_process(redis_url):
    async def scenario():
        one = layer(redis_url)
        other = RedisChannelLayer(hosts=[{"address": redis_url}], prefix=one.prefix)  # a second process
        a, b, c = await one.new_channel(), await one.new_channel(), await other.new_channel()
        await one.group_add("fleet", a)
        await one.group_add("fleet", b)
        await other.group_add("fleet", c)
        await one.group_send("fleet", {"type": "device.command", "n": 1})
        got = [await receive(one, a), await receive(one, b), await receive(other, c)]
        await one.flush()
        return got

    got = async_to_sync(scenario)()
    assert [message["n"] for message in got] == [1, 1, 1]
    assert all(message["type"] == "device.command" for message in got)


def test_what_plain_channels_redis_sends_this_layer_receives_and_back(redis_url):
    # Processes of a rolling upgrade run both: the keys and the messages are the same.
    async def scenario():
        ours = layer(redis_url)
        theirs = PlainLayer(hosts=[{"address": redis_url}], prefix=ours.prefix)
        mine, its = await ours.new_channel(), await theirs.new_channel()
        await theirs.group_add("console", mine)
        await ours.group_add("console", its)
        await ours.group_send("console", {"type": "console.event", "from": "ours"})
        await theirs.group_send("console", {"type": "console.event", "from": "theirs"})
        got = sorted([(await receive(ours, mine))["from"], (await receive(ours, mine))["from"]])
        got_theirs = sorted([(await receive(theirs, its))["from"], (await receive(theirs, its))["from"]])
        await ours.flush()
        return got, got_theirs

    got, got_theirs = async_to_sync(scenario)()
    assert got == ["ours", "theirs"] and got_theirs == ["ours", "theirs"]


def test_a_full_channel_misses_the_message_and_the_others_still_get_it(redis_url):
    async def scenario():
        small = layer(redis_url, capacity=1)
        other = RedisChannelLayer(hosts=[{"address": redis_url}], prefix=small.prefix, capacity=1)
        full, free = await small.new_channel(), await other.new_channel()
        await small.groups_add([("g", full), ("g", free)])
        await small.send(full, {"type": "filler"})  # `full` is at its capacity of 1
        await small.group_send("g", {"type": "news"})
        first = await receive(small, full)
        nothing_more = await nothing_for(small, full)
        to_free = await receive(other, free)
        await small.flush()
        return first, nothing_more, to_free

    first, nothing_more, to_free = async_to_sync(scenario)()
    assert first["type"] == "filler" and nothing_more
    assert to_free["type"] == "news"


def test_queued_messages_past_their_expiry_no_longer_count_against_capacity(redis_url):
    async def scenario():
        small = layer(redis_url, capacity=1, expiry=1)
        channel = await small.new_channel()
        await small.group_add("g", channel)
        await small.send(channel, {"type": "stale"})
        await asyncio.sleep(2.1)  # past the 1 s expiry: dropped when the next group message comes
        await small.group_send("g", {"type": "fresh"})
        got = await receive(small, channel)
        await small.flush()
        return got

    assert async_to_sync(scenario)()["type"] == "fresh"


def test_a_member_past_the_group_expiry_is_dropped_and_not_sent_to(redis_url):
    async def scenario():
        short = layer(redis_url, group_expiry=1)
        gone, kept = await short.new_channel(), await short.new_channel()
        await short.group_add("g", gone)
        await asyncio.sleep(2.1)
        await short.groups_add([("g", kept)])  # joined (or rejoined) since
        await short.group_send("g", {"type": "news"})
        got = await receive(short, kept)
        missed = await nothing_for(short, gone)
        members = await short.connection(0).zrange(short._group_key("g"), 0, -1)
        await short.flush()
        return got, missed, [member.decode() for member in members], kept

    got, missed, members, kept = async_to_sync(scenario)()
    assert got["type"] == "news" and missed
    assert members == [kept]
