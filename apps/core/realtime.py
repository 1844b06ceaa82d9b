"""The one way code outside a consumer pushes to websockets: group names, the console's event
types with their audience by role, and sync, async and batched senders.

Senders called inside a request send after commit; a channel-layer failure then is logged,
never raised: the write is committed, and a console catches up from the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

CONSOLE_GROUP = "console"
EVENTS_PER_MESSAGE = 100  # events per `console.events` group message (a batch)

OPERATOR, IT = "operator", "it"

# Every console event type: the key its payload travels under, and the roles whose sockets get
# it. IT manages devices; footage, commands, deliveries, hits and live views are operators' only.
CONSOLE_EVENTS: dict[str, tuple[str, frozenset[str]]] = {
    "device.status": ("device", frozenset({OPERATOR, IT})),
    "command.update": ("command", frozenset({OPERATOR})),
    "delivery.update": ("delivery", frozenset({OPERATOR})),
    "clip.update": ("clip", frozenset({OPERATOR})),
    "hit.new": ("hit", frozenset({OPERATOR})),
    "hit.update": ("hit", frozenset({OPERATOR})),
    "live.update": ("live", frozenset({OPERATOR})),
    # Not the lead (reading one is audited, per person): that it changed, for a page to read it again.
    "lead.update": ("lead", frozenset({OPERATOR})),
}
CONSOLE_ROLES = frozenset().union(*(roles for _key, roles in CONSOLE_EVENTS.values()))


def iso_time(value: datetime | None) -> str | None:
    """A datetime as DRF's DateTimeField writes it (ISO 8601, UTC as "Z"), without a serializer."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def device_group(device_id) -> str:
    return f"device.{device_id}"


def console_event(event_type: str, payload: dict) -> dict:
    """The frame a console socket receives: {"type": event_type, <key>: payload}."""
    try:
        key, _roles = CONSOLE_EVENTS[event_type]
    except KeyError:
        raise ValueError(f"Unknown console event type {event_type!r}; add it to CONSOLE_EVENTS.") from None
    return {"type": event_type, key: payload}


def console_may_see(role: str, event_type: str) -> bool:
    """Whether a console socket of this role gets events of this type (unknown types: nobody)."""
    entry = CONSOLE_EVENTS.get(event_type)
    return entry is not None and role in entry[1]


# Senders -------------------------------------------------------------------------------------

# What the channel layer raises when its Redis cannot be reached (refused, reset, or no answer).
LAYER_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)


async def group_send(group: str, message: dict) -> bool:
    """Sends now (async code: consumers, the presence path); a failure is logged, not raised.
    Returns whether the message went out. A Redis that takes the connection but never answers
    fails it after RTCC_REALTIME_SEND_TIMEOUT seconds (the layer's socket has no timeout of its
    own: a blocking receive needs none), so that no request waits on it for ever after its commit."""
    try:
        async with asyncio.timeout(getattr(settings, "RTCC_REALTIME_SEND_TIMEOUT", 5.0)):
            await get_channel_layer().group_send(group, message)
    except LAYER_DOWN as exc:  # TimeoutError included: one line each while Redis is away, no traceback
        log.error(
            "realtime: could not send %r to group %s: the channel layer cannot be reached (%s: %s)",
            message.get("type"),
            group,
            type(exc).__name__,
            exc,
        )
        return False
    except Exception:
        log.exception("realtime: could not send %r to group %s", message.get("type"), group)
        return False
    return True


def group_send_now(group: str, message: dict) -> None:
    """Sends now from sync code; a failure is logged, not raised."""
    async_to_sync(group_send)(group, message)


def group_send_quietly(group: str, message: dict) -> bool:
    """Sends now from sync code; whether it went out (a failure is logged, not raised)."""
    return async_to_sync(group_send)(group, message)


async def written_out() -> None:
    """Lets the event loop write what this coroutine just sent before it goes on.

    Under daphne a frame is written by Twisted when the event loop next polls the socket, and
    asyncio runs what a poll found ready before any timer. Code that sends a frame and then has
    work of its own (the device's command, then its database record) waits here for one such
    poll, instead of making the frame wait for that work. Without it a command's frame took
    0.96 ms from its send to the device at the median (1.84 ms at the 90th percentile), against
    0.32 ms for a bare group message; with it, 0.64 ms (1.00) (bench/command_latency.py)."""
    await asyncio.sleep(WRITE_OUT_S)


WRITE_OUT_S = 0.00001  # a timer: due at the next poll, run after what that poll found ready


# Inside run_then_send: the messages committed work published, in order, for the event loop to send.
_outbox: ContextVar[list[tuple[str, dict]] | None] = ContextVar("rtcc_realtime_outbox", default=None)


def group_send_after_commit(group: str, message: dict) -> None:
    """Sends once the surrounding transaction commits (at once outside one); never raises: once
    a write is committed, a failed push must not turn its answer into a 500 (whoever depends on
    the push catches up from the database: a device on reconnect or by a sweep).
    Under run_then_send the message is handed to the event loop after commit instead of being
    sent from this thread (no hop back to the loop per message)."""
    outbox = _outbox.get()
    if outbox is not None:
        transaction.on_commit(lambda: outbox.append((group, message)))
        return
    transaction.on_commit(lambda: group_send_now(group, message))


async def run_then_send(
    func: Callable[..., Any], /, *args: Any, executor: ThreadPoolExecutor | None = None, **kwargs: Any
) -> Any:
    """Runs sync `func` (database work: a whole sync view, a service) in one hop to a thread,
    then sends from the event loop, in order, every group message it published after commit.
    The sends happen whatever `func` did afterwards (raised or not): what committed is announced,
    and a send that fails is logged, never raised. The thread is Django's one thread for sync
    code, or one of `executor`'s (its database connections closed as channels does)."""
    outbox: list[tuple[str, dict]] = []
    token = _outbox.set(outbox)
    try:
        if executor is None:
            return await sync_to_async(func)(*args, **kwargs)
        return await DatabaseSyncToAsync(func, thread_sensitive=False, executor=executor)(*args, **kwargs)
    finally:
        _outbox.reset(token)
        for group, message in outbox:
            await group_send(group, message)


async def console_send(event_type: str, payload: dict) -> bool:
    """One console event, now (async code); whether it went out."""
    return await group_send(CONSOLE_GROUP, {"type": "console.event", "event": console_event(event_type, payload)})


def console_send_after_commit(event_type: str, payload: dict) -> None:
    """One console event, after commit."""
    group_send_after_commit(CONSOLE_GROUP, {"type": "console.event", "event": console_event(event_type, payload)})


def console_send_many_after_commit(event_type: str, payloads: Iterable[dict]) -> None:
    """Many console events of one type, after commit, EVENTS_PER_MESSAGE to a group message: a
    10,000-phone briefing costs the channel layer 100 messages rather than 10,000 (and no
    console socket's channel overflows). The console consumer sends each on as its own frame."""
    events = [console_event(event_type, payload) for payload in payloads]
    if not events:
        return

    async def send_all() -> None:
        for start in range(0, len(events), EVENTS_PER_MESSAGE):
            await group_send(
                CONSOLE_GROUP, {"type": "console.events", "events": events[start : start + EVENTS_PER_MESSAGE]}
            )

    transaction.on_commit(lambda: async_to_sync(send_all)())


def person_group(user_id) -> str:
    """Every console socket a person has open, on every process."""
    return f"person.{user_id}"


def close_person_sockets_after_commit(user_id, *, code: int = 4401) -> None:
    """Closes a person's console sockets everywhere once this transaction commits (deactivated,
    a new password, or their role changed: what they may see is no longer what the socket was
    opened for)."""
    group_send_after_commit(person_group(user_id), {"type": "console.close", "code": code})


def credential_group(credential: str) -> str:
    """Every console socket opened with one credential (an API token's id, or a session's key:
    hashed, so that no session key travels to the channel layer), on every process."""
    return "credential." + hashlib.sha256(credential.encode()).hexdigest()[:40]


def close_credential_sockets_after_commit(credential: str, *, code: int = 4401) -> None:
    """Closes the console sockets opened with this credential once this transaction commits (a
    logout: the credential ends at once, its open sockets with it)."""
    group_send_after_commit(credential_group(credential), {"type": "console.close", "code": code})


def console_event_after_commit(event_type: str, key: str, payload: dict) -> None:
    """The older three-argument form (kept while branches written against it merge); the key is
    checked against CONSOLE_EVENTS. Use console_send_after_commit(event_type, payload)."""
    if CONSOLE_EVENTS.get(event_type, (None,))[0] != key:
        raise ValueError(f"Console event {event_type!r} does not travel under {key!r}.")
    console_send_after_commit(event_type, payload)


def scope_header(scope, name: bytes) -> bytes | None:
    """A websocket handshake's header (lower-case name), or None."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


def device_frame_after_commit(device_id, frame: dict) -> None:
    """Sends `frame` unchanged to the device's open socket, in whichever process holds it, after
    commit: the device consumer forwards every `device.frame` group event as it is. For feature
    apps that speak to devices (live view) without the device consumer knowing them."""
    group_send_after_commit(device_group(device_id), {"type": "device.frame", "frame": frame})


# Staying in groups --------------------------------------------------------------------------


def group_rejoin_seconds() -> float:
    """How often an open socket (device or console) joins its groups again: a Redis restarted
    without persistence has forgotten every group, and a socket outside its groups would never
    hear another event. RTCC_GROUP_REJOIN; the older RTCC_DEVICE_GROUP_REJOIN is still read."""
    value = getattr(settings, "RTCC_GROUP_REJOIN", None)
    return float(value if value is not None else getattr(settings, "RTCC_DEVICE_GROUP_REJOIN", 10))


REJOIN_BATCH = 50  # (group, channel) pairs per Redis pipeline


class _Rejoiner:
    """One per channel layer and event loop: every open socket's groups, joined again together
    every group_rejoin_seconds() in pipelines of REJOIN_BATCH (apps/core/layers.py: groups_add),
    spread over the first half of the period (a thousand sockets' joins at once would stall the
    event loop, and every request of the process with it); and at once, unspread, when a socket's
    receive met the layer failing, then again after a short, growing pause until the joins go
    through: a restarted Redis has forgotten the groups, and its first answers may be errors from
    pooled connections to the old server, so one attempt per period could leave a socket deaf for
    several periods. A socket's own task per period cost a thousand sockets a hundred Redis round
    trips a second on the event loop."""

    def __init__(self, channel_layer, key: tuple) -> None:
        self.layer = channel_layer
        self.key = key  # in _rejoiners
        self.members: dict[str, tuple[str, ...]] = {}
        self.wake = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _join(self, pairs: list[tuple[str, str]], *, spread: float) -> None:
        groups_add = getattr(self.layer, "groups_add", None)
        batches = [pairs[start : start + REJOIN_BATCH] for start in range(0, len(pairs), REJOIN_BATCH)]
        gap = spread / len(batches) if batches else 0.0
        for batch in batches:
            if groups_add is not None:
                await groups_add(batch)
            else:  # a layer without it (the in-memory one): one by one
                for group, channel in batch:
                    await self.layer.group_add(group, channel)
            if gap and not self.wake.is_set():  # trouble meanwhile: the rest at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), gap)
            else:
                await asyncio.sleep(0)  # whatever else waits on the loop goes first

    async def _run(self) -> None:
        pause: float | None = None
        while True:
            spread = 0.0
            if pause is not None:
                await asyncio.sleep(pause)
            else:
                try:
                    await asyncio.wait_for(self.wake.wait(), group_rejoin_seconds())
                except TimeoutError:
                    spread = group_rejoin_seconds() / 2
            self.wake.clear()
            pairs = [(group, channel) for channel, groups in list(self.members.items()) for group in groups]
            try:
                await self._join(pairs, spread=spread)
            except Exception as exc:  # the channel layer is (still) down: again shortly
                pause = min((pause or 0.25) * 2, 5.0)
                log.warning(
                    "%d sockets could not rejoin their groups, again in %.1f s: %s", len(self.members), pause, exc
                )
            else:
                pause = None


_rejoiners: dict[tuple[int, asyncio.AbstractEventLoop], _Rejoiner] = {}


def _rejoiner(channel_layer) -> _Rejoiner:
    key = (id(channel_layer), asyncio.get_running_loop())
    rejoiner = _rejoiners.get(key)
    if rejoiner is None or rejoiner.task.done():
        rejoiner = _rejoiners[key] = _Rejoiner(channel_layer, key)
    return rejoiner


async def _stay(rejoiner: _Rejoiner, channel_name: str, groups: tuple[str, ...], trouble: asyncio.Event | None) -> None:
    rejoiner.members[channel_name] = groups
    signal = trouble or asyncio.Event()  # without one: nothing to do until cancelled
    try:
        while True:
            await signal.wait()
            signal.clear()
            rejoiner.wake.set()
    finally:
        rejoiner.members.pop(channel_name, None)
        if not rejoiner.members:  # the last socket of this loop is gone: so is its rejoiner
            rejoiner.task.cancel()
            if _rejoiners.get(rejoiner.key) is rejoiner:
                del _rejoiners[rejoiner.key]


def stay_in_groups(
    channel_layer, channel_name: str, groups: Iterable[str], *, trouble: asyncio.Event | None = None
) -> asyncio.Task:
    """Joins `groups` again every group_rejoin_seconds() for as long as the socket is open, and
    at once whenever `trouble` is set (SurvivesLayerOutage sets it when its receive fails); the
    consumer cancels the returned task when it disconnects. Whatever the socket missed while it
    was out of a group comes from the database (a device's commands on the resend sweep)."""
    return asyncio.ensure_future(_stay(_rejoiner(channel_layer), channel_name, tuple(groups), trouble))


async def _layer_receive_retrying(
    channel_layer, channel_name: str, what: str, trouble: asyncio.Event | None = None
) -> dict:
    """The next channel-layer message for this socket; while the layer is unreachable (Redis
    restarting) tries again with a growing pause instead of ending the socket, and sets `trouble`
    so that the socket rejoins its groups as soon as the layer answers again."""
    pause = 0.5
    while True:
        try:
            return await channel_layer.receive(channel_name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if trouble is not None:
                trouble.set()
            log.warning("%s: channel layer unavailable, receiving again in %.1f s: %s", what, pause, exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


class DirectDispatch:
    """For an AsyncConsumer subclass: each message goes straight to its handler. Channels (4.2+)
    first runs close_old_connections in Django's one sync thread, before EVERY message: a thread
    switch per frame and per group event, each queued behind whatever sync view that thread is
    running (a command for a camera waited for someone's page to render). Here it is not needed:
    the consumers reach the database only through database_sync_to_async, which closes stale
    connections itself before and after each call, or through apps/core/aiodb.py; never through
    Django's async ORM."""

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class SurvivesLayerOutage:
    """For an AsyncConsumer subclass (the console's): a channel layer that fails (Redis restarted)
    no longer ends the consumer and closes its socket with 1011; it keeps receiving once the layer
    is back, and stay_in_groups() puts it back into the groups a restarted Redis forgot.
    Channels' own AsyncConsumer.__call__, with a receive that retries."""

    channel_layer_alias: str
    dispatch: Callable[[dict], Awaitable[None]]
    layer_trouble: asyncio.Event | None = None

    async def __call__(self, scope, receive, send):
        from channels.exceptions import StopConsumer
        from channels.utils import await_many_dispatch

        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            layer, name, what = self.channel_layer, self.channel_name, type(self).__name__
            trouble = self.layer_trouble = asyncio.Event()

            async def channel_receive() -> dict:
                return await _layer_receive_retrying(layer, name, what, trouble)

            self.channel_receive = channel_receive
            sources.append(channel_receive)
        try:
            await await_many_dispatch(sources, self.dispatch)
        except StopConsumer:
            pass
