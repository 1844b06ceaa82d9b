"""rtcc's channel layer (apps/core/layers.py) against the real Redis: group messages, capacity and
expiry behave as channels_redis' own, with fewer round trips."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio
import redis.exceptions
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


def test_each_socket_of_a_process_gets_its_own_messages_in_order(redis_url):
    # One reader per process hands every socket (channel) of it what was sent to that socket.
    async def scenario():
        one = layer(redis_url)
        channels = [await one.new_channel() for _ in range(20)]
        for number in range(3):
            for index, channel in enumerate(channels):
                await one.send(channel, {"type": "device.frame", "to": index, "n": number})
        got = {index: [(await receive(one, channel))["n"] for _ in range(3)] for index, channel in enumerate(channels)}
        await one.flush()
        return got

    assert async_to_sync(scenario)() == {index: [0, 1, 2] for index in range(20)}


def test_a_socket_that_stops_waiting_takes_no_message_from_the_others(redis_url):
    # A socket closes (its receive is cancelled) while others of the process wait: they still get
    # theirs, and what is then sent to the closed one stays for it.
    async def scenario():
        one = layer(redis_url)
        gone, staying = await one.new_channel(), await one.new_channel()
        waiting = asyncio.ensure_future(one.receive(staying))
        assert await nothing_for(one, gone)  # its receive cancelled after 0.5 s
        await one.send(staying, {"type": "device.frame", "n": 1})
        await one.send(gone, {"type": "device.frame", "n": 2})
        first = await asyncio.wait_for(waiting, 10)
        late = await receive(one, gone)
        await one.flush()
        return first, late

    first, late = async_to_sync(scenario)()
    assert first["n"] == 1 and late["n"] == 2


def test_sockets_keep_receiving_after_the_connection_they_wait_on_is_dropped(redis_url):
    # Redis drops the process's blocked connection (a failover, a proxy, CLIENT KILL): what is
    # sent afterwards still reaches every waiting socket.
    name = f"rtcc-test-reader-{uuid.uuid4().hex[:8]}"

    async def scenario():
        one = layer(redis_url)
        one.hosts[0]["client_name"] = name  # to find the reader's connection below
        a, b = await one.new_channel(), await one.new_channel()
        waiting = [asyncio.ensure_future(one.receive(a)), asyncio.ensure_future(one.receive(b))]
        admin = redis.asyncio.from_url(redis_url)
        for _ in range(100):
            blocked = [c for c in await admin.client_list() if c.get("name") == name and c.get("cmd") == "bzpopmin"]
            if blocked:
                break
            await asyncio.sleep(0.05)
        assert blocked, "the reader never waited on Redis"
        for client in blocked:
            await admin.client_kill_filter(_id=client["id"])
        await asyncio.sleep(0.2)
        results = []
        for channel, task in zip((a, b), waiting, strict=True):
            await one.send(channel, {"type": "device.frame", "to": channel})
            try:
                results.append(await asyncio.wait_for(task, 10))
            except redis.exceptions.ConnectionError:  # told of the drop: the socket receives again
                results.append(await receive(one, channel))
        await admin.aclose()
        await one.flush()
        return results, a, b

    results, a, b = async_to_sync(scenario)()
    assert [message["to"] for message in results] == [a, b]


def test_an_unreachable_redis_is_reported_to_every_waiting_socket(redis_url):
    # Nothing listens on port 1: each socket's receive raises (the consumer retries, see
    # apps/core/realtime.py) instead of waiting for ever.
    async def scenario():
        down = RedisChannelLayer(hosts=[{"address": "redis://127.0.0.1:1/0"}], prefix="rtcc-test-down")
        a, b = await down.new_channel(), await down.new_channel()
        results = await asyncio.gather(
            asyncio.wait_for(down.receive(a), 30), asyncio.wait_for(down.receive(b), 30), return_exceptions=True
        )
        return [type(result) for result in results]

    assert async_to_sync(scenario)() == [redis.exceptions.ConnectionError, redis.exceptions.ConnectionError]


def test_a_receive_per_event_loop_loses_no_message(redis_url):
    # Sync code receives with async_to_sync, a new event loop each time, ended (and its tasks
    # cancelled) as soon as the message is in hand: no message may be popped for nobody then.
    one = layer(redis_url)
    channel = async_to_sync(one.new_channel)()
    for number in range(20):
        async_to_sync(one.send)(channel, {"type": "clip.update", "n": number})
    got = [async_to_sync(receive)(one, channel)["n"] for _ in range(20)]
    async_to_sync(one.flush)()
    assert got == list(range(20))
