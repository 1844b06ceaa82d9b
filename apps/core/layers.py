"""channels_redis' layer with fewer Redis round trips on the paths every command and event takes.

Under load a web process's event loop serves a thousand sockets, and every `await` of a Redis
reply waits behind all of them. channels_redis 4.3 spends four sequential round trips on a
`group_send` (drop expired members, read the members, drop expired messages, push) and two on a
`group_add` (add, expire). Here:

- `group_send`: the first two in one pipeline, and the last two in one script (the expired
  messages of each channel dropped inside it, right before the capacity check): 2 round trips;
- `group_add`: one pipeline; `groups_add` adds many (group, channel) pairs in one pipeline, for
  the sockets of a process that rejoin their groups together (apps/core/realtime.py);
- `receive` on a socket's channel (one of this process's, `specific.<process>!<socket>`): one
  reader task per process pops the process's messages with one BZPOPMIN each and hands them to
  the sockets' queues. channels_redis makes whichever socket holds its receive lock do the
  popping, with four commands a message (a cleanup script, the pop, a backup ZADD before the
  message is handed over, a ZPOPMIN of the backup afterwards) and two new futures for each
  waiting socket every time the lock moves. The backup exists because the socket popping could
  be cancelled (it disconnected) with a popped message in hand; the reader belongs to no socket
  and is cancelled only with its event loop, so a message is never in the hands of a socket
  that goes away.

The data kept in Redis and what a receiver gets are unchanged: the same keys, scores, expiries,
capacity and serialization (the parent's own helpers build them).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import time
from collections.abc import Iterable

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer

log = logging.getLogger("channels_redis.core")  # its "over capacity" lines, as before

# KEYS: the channels' keys; ARGV: a message per key, a capacity per key, now, the message
# expiry in seconds, the cutoff score below which a queued message has expired.
_GROUP_SEND = """
local over_capacity = 0
local n = #KEYS
local current_time = ARGV[2 * n + 1]
local expiry = ARGV[2 * n + 2]
local cutoff = ARGV[2 * n + 3]
for i = 1, n do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, cutoff)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + n]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


class _ReaderFailed:
    """Put in the queue of each waiting socket when the process's reader fails (Redis gone): that
    socket's receive raises the error, as channels_redis' receive does, and the socket decides
    (apps/core/realtime.py retries; a new reader starts with the next receive)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class RedisChannelLayer(BaseRedisChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reader: asyncio.Task | None = None
        self._hungry = asyncio.Event()  # set when a socket starts waiting on an empty queue
        self._waiting: collections.Counter[str] = collections.Counter()  # receives in progress, by channel

    async def receive(self, channel):
        if "!" not in channel:
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel)
        process_channel = self.non_local_name(channel)
        assert process_channel.endswith(self.client_prefix + "!"), "Wrong client prefix"
        self._keep_reading(process_channel)
        queue = self.receive_buffer[channel]
        self._waiting[channel] += 1
        if queue.empty():
            self._hungry.set()
        try:
            message = await queue.get()
        finally:
            self._waiting[channel] -= 1
            if not self._waiting[channel]:
                del self._waiting[channel]
                if queue.empty() and self.receive_buffer.get(channel) is queue:
                    del self.receive_buffer[channel]  # as channels_redis: no queue kept for a quiet socket
        if isinstance(message, _ReaderFailed):
            raise message.error
        return message

    def _keep_reading(self, process_channel: str) -> None:
        loop = asyncio.get_running_loop()
        reader = self._reader
        if reader is not None and not reader.done():
            if reader.get_loop() is loop:
                return
            if reader.get_loop().is_running():  # a loop that stopped receives no more: replaced
                raise RuntimeError("Two event loops are trying to receive() on one channel layer at once!")
        self._hungry = asyncio.Event()
        # A context of its own: the reader outlives the socket whose receive started it.
        self._reader = loop.create_task(self._read(process_channel), context=contextvars.Context())

    def _any_hungry(self) -> bool:
        """Whether a socket waits with nothing in its queue."""
        buffer = self.receive_buffer
        return any(channel not in buffer or buffer[channel].empty() for channel in self._waiting)

    async def _read(self, process_channel: str) -> None:
        """Pops the process's messages into its sockets' queues, but only while a socket waits
        with nothing in its queue: a message popped for nobody would be lost if the event loop
        ended then (a receive per loop, as `async_to_sync(layer.receive)` makes). Stops after
        brpop_timeout with no socket receiving."""
        key = self.prefix + process_channel
        connection = self.connection(self.consistent_hash(process_channel))
        hungry = self._hungry
        try:
            while True:
                if not self._any_hungry():
                    hungry.clear()
                    try:
                        await asyncio.wait_for(hungry.wait(), self.brpop_timeout)
                    except TimeoutError:
                        if not self._waiting:
                            return
                    continue
                popped = await connection.bzpopmin(key, timeout=self.brpop_timeout)
                if popped is not None:
                    self._hand_over(process_channel, popped[1])
                elif not self._waiting:
                    return
        except Exception as exc:  # Redis unreachable: every waiting socket hears of it
            for channel, count in list(self._waiting.items()):
                for _ in range(count):
                    self.receive_buffer[channel].put_nowait(_ReaderFailed(exc))

    def _hand_over(self, process_channel: str, content: bytes) -> None:
        message = self.deserialize(content)
        to = message.pop("__asgi_channel__", process_channel)
        for channel in to if isinstance(to, list) else (to,):
            self.receive_buffer[channel].put_nowait(message)

    async def group_add(self, group, channel):
        await self.groups_add([(group, channel)])

    async def groups_add(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Adds each channel to its group (as group_add), one pipeline per Redis host."""
        by_host: dict[int, list[tuple[str, str]]] = collections.defaultdict(list)
        for group, channel in pairs:
            assert self.require_valid_group_name(group), "Group name not valid"
            assert self.require_valid_channel_name(channel), "Channel name not valid"
            by_host[self.consistent_hash(group)].append((self._group_key(group), channel))
        now = time.time()
        for index, members in by_host.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for group_key, channel in members:
                pipe.zadd(group_key, {channel: now})
                pipe.expire(group_key, self.group_expiry)
            await pipe.execute()

    async def group_send(self, group, message):
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        pipe = self.connection(self.consistent_hash(group)).pipeline(transaction=False)
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        pipe.zrange(key, 0, -1)
        _, members = await pipe.execute()
        channel_names = [member.decode("utf8") for member in members]
        to_host, messages, capacities = self._map_channel_keys_to_connection(channel_names, message)
        for index, channel_keys in to_host.items():
            now = time.time()
            args = [
                *(messages[channel_key] for channel_key in channel_keys),
                *(capacities[channel_key] for channel_key in channel_keys),
                now,
                self.expiry,
                int(now) - int(self.expiry),
            ]
            over_capacity = await self.connection(index).eval(_GROUP_SEND, len(channel_keys), *channel_keys, *args)
            if over_capacity > 0:
                log.info("%s of %s channels over capacity in group %s", over_capacity, len(channel_names), group)
