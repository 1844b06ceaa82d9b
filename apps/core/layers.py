"""channels_redis' layer with fewer Redis round trips on the paths every command and event takes.

Under load a web process's event loop serves a thousand sockets, and every `await` of a Redis
reply waits behind all of them. channels_redis 4.3 spends four sequential round trips on a
`group_send` (drop expired members, read the members, drop expired messages, push) and two on a
`group_add` (add, expire). Here:

- `group_send`: the first two in one pipeline, and the last two in one script (the expired
  messages of each channel dropped inside it, right before the capacity check): 2 round trips;
- `group_add`: one pipeline; `groups_add` adds many (group, channel) pairs in one pipeline, for
  the sockets of a process that rejoin their groups together (apps/core/realtime.py).

The data kept in Redis and what a receiver gets are unchanged: the same keys, scores, expiries,
capacity and serialization (the parent's own helpers build them).
"""

from __future__ import annotations

import collections
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


class RedisChannelLayer(BaseRedisChannelLayer):
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
