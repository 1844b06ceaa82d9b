"""The device websocket. Thin: each frame type is handled by its domain.

Device frames: `status` -> apps.devices.presence; `ack`/`result` -> apps.control.delivery.
Group events: `device.command` (send a command), `device.frame` (a frame from another app,
sent as it is: apps.core.realtime.device_frame_after_commit), `device.revoked` (close 4403).
The console websocket lives in apps.console.consumers.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.accounts.tokens import bearer_from_header
from apps.core.logs import AlreadyLogged
from apps.core.realtime import LAYER_DOWN, DirectDispatch, device_group, scope_header, stay_in_groups, written_out
from apps.core.retry import DB_ERRORS, db_retried_async
from apps.devices import presence
from apps.devices.authentication import device_for_token, device_token_revoked

from . import conf, delivery

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_RATE_LIMITED = 4429
CLOSE_TRY_AGAIN_LATER = 1013
ANSWER_TYPES = ("ack", "result")
MAX_FRAME = 64 * 1024  # bytes of UTF-8, as the frame came over the wire


def _too_long(text: str) -> bool:
    """Over MAX_FRAME bytes: a character is 1 to 4 of them, so only a frame of more than a
    quarter of the limit in characters is encoded to count them."""
    return len(text) > MAX_FRAME or (len(text) > MAX_FRAME // 4 and len(text.encode()) > MAX_FRAME)


SENT_MEMORY = 1024
# A frame whose handling meets a database error is tried again for a moment (db_retried_async); if
# the database is still unreachable the device gets an `unavailable` error frame and keeps its connection.
UNAVAILABLE = ("unavailable", "The server could not record this frame just now; send it again shortly.")
# A frame whose handling failed for a reason of the server's own (logged): nothing was changed.
UNHANDLED = ("server_error", "The server could not handle this frame.")


class FrameBudget:
    """A token bucket: `rate` frames per second sustained, `burst` at once."""

    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens, self.at = self.burst, time.monotonic()

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class DeviceConsumer(DirectDispatch, AsyncWebsocketConsumer):
    # Not SurvivesLayerOutage (the console's): when the channel layer fails the device socket
    # ends and the device reconnects, which counts it again in presence (kept in the same Redis,
    # which forgot the count). A socket that outlives a Redis restart rejoins its group below.
    device = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The command ids sent on this connection, oldest first, each with the answers ("ack",
        # "result") the device still owes for it: those are taken outside the frame budget, so
        # that a device answering a backlog of commands is never refused an answer it owes (its
        # command would expire although it ran).
        self.sent_here: dict[str, set[str]] = {}
        self.rejoin: asyncio.Task | None = None
        self.counted = False  # presence was told of this socket (its count may have gone up)
        self.counted_down = False  # presence told of this socket's end (exactly once)
        self.closing = False  # closed by the server: frames still queued are ignored
        self.accepted = False  # the handshake was answered
        self.frames = FrameBudget(conf.device_frame_rate(), conf.device_frame_burst())
        self.answers = FrameBudget(conf.device_answer_rate(), conf.device_answer_burst())
        self.over_since: float | None = None  # when the current run of refused frames began
        self.last_refused = 0.0
        self.last_warned = 0.0

    async def send(self, text_data=None, bytes_data=None, close=False) -> bool:
        """A frame to the device, and whether it went: not when its socket has closed meanwhile (a
        revoke closing it while a live-view or command frame was on its way). There is no one to
        send it to; a command's frame is not recorded as sent, and goes on the next connection."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except Disconnected:
            log.info("device %s: a frame for a socket already closed was dropped", getattr(self.device, "pk", "?"))
            return False
        return True

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except LAYER_DOWN as exc:
            # Redis (the channel layer, presence) cannot be reached: the device is told to come back
            # later (1013, try again later) where the server can say so. Daphne cannot: autobahn
            # sends only 1000 and 3000-4999 from the server side and refuses 1013. There an error
            # ends the consumer, and daphne closes the socket with 1011; a consumer that returned
            # instead left the socket open to a device that heard nothing more. The error is
            # AlreadyLogged: this line says it, daphne logs no traceback per socket.
            log.warning("device socket closed: the channel layer cannot be reached (%s: %s)", type(exc).__name__, exc)
            try:
                await self.close(code=CLOSE_TRY_AGAIN_LATER)
            except Exception:
                raise AlreadyLogged(f"the channel layer cannot be reached: {exc}") from exc
        finally:
            # daphne kills a consumer that has not finished 10 s after its socket closed (a long
            # backlog of frames), and a bug may end it early: either way the device must not
            # stay counted as connected, so the count goes down here if `disconnect` never ran.
            if self.device is not None and not self.counted_down:
                try:
                    await asyncio.shield(asyncio.ensure_future(self._count_down()))
                except LAYER_DOWN as exc:  # presence lives in that Redis: it forgets the count when it restarts
                    log.warning("device %s: presence could not count its socket down (%s)", self.device.id, exc)

    async def connect(self):
        try:
            await self._connect()
        except DB_ERRORS as exc:
            # PostgreSQL cannot be reached (down, restarting): the device is told to reconnect with
            # its backoff. The socket is accepted first, so the error closes it with 1011 (see
            # __call__) rather than failing the handshake with an HTTP 500, and it is one warning
            # line here: daphne logs no traceback per device while the database is away.
            log.warning("device socket closed: the database cannot be reached (%s: %s)", type(exc).__name__, exc)
            if not self.accepted:
                await self.accept()
            raise AlreadyLogged(f"the database cannot be reached: {exc}") from exc

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def _connect(self) -> None:
        token = bearer_from_header(scope_header(self.scope, b"authorization"))
        device = await database_sync_to_async(device_for_token)(token)
        await self.accept()
        if device is None:
            revoked = await database_sync_to_async(device_token_revoked)(token)
            await self.close(code=CLOSE_FORBIDDEN if revoked else CLOSE_UNAUTHORIZED)
            return
        self.device = device
        await self.channel_layer.group_add(device_group(device.id), self.channel_name)
        self.rejoin = stay_in_groups(self.channel_layer, self.channel_name, [device_group(device.id)])
        self.counted = True
        await presence.presence_connected(device, scope=self.scope)
        for command in await delivery.commands_on_connect(device):
            await self.send_command(command)

    async def disconnect(self, code):
        if self.device is None:
            return
        await self._count_down()

    async def _count_down(self) -> None:
        """This socket is gone: presence counts it down (first: a channel layer error must not
        keep the device online), then the socket leaves the device's group."""
        if self.counted_down or self.device is None:
            return
        self.counted_down = True
        if self.rejoin is not None:
            self.rejoin.cancel()
        try:
            if self.counted:  # a socket refused before presence heard of it is no socket less
                await presence.presence_disconnected(self.device)
        finally:
            try:
                await self.channel_layer.group_discard(device_group(self.device.id), self.channel_name)
            except Exception as exc:  # the layer is down: the group entry expires by itself
                log.warning("device %s could not leave its group: %s", self.device.id, exc)

    async def receive(self, text_data=None, bytes_data=None):
        if self.device is None or self.closing:
            return
        frame = None
        if text_data is not None and not _too_long(text_data):
            try:
                frame = json.loads(text_data)
            except (ValueError, RecursionError):  # nested too deeply for the decoder: not usable either
                frame = ValueError
        answer = isinstance(frame, dict) and frame.get("type") in ANSWER_TYPES
        now = time.monotonic()
        owed = isinstance(frame, dict) and answer and self._owed(frame)
        if not owed and not (self.answers if answer else self.frames).take(now):
            await self.over_budget(now, answer=answer)
            return
        if text_data is None or _too_long(text_data):
            await self.send_error("bad_frame", "Frames must be JSON text of at most 64 KiB.")
            return
        if frame is ValueError:
            await self.send_error("bad_json", "The frame is not valid JSON.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("bad_frame", "A frame is a JSON object with a string 'type'.")
            return
        handlers = {
            "status": presence.presence_status,
            "ack": delivery.command_ack,
            "result": delivery.command_result,
        }
        handler = handlers.get(frame["type"])
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {frame['type']!r}.")
            return
        try:
            problem = await db_retried_async(functools.partial(handler, self.device, frame))
        except DB_ERRORS:
            log.exception("database unavailable for a %s frame of device %s", frame["type"], self.device.pk)
            problem = UNAVAILABLE
        except Exception:  # a frame this code did not foresee: the device hears so, the socket stays
            log.exception("a %s frame of device %s could not be handled", frame["type"], self.device.pk)
            problem = UNHANDLED
        if problem:
            await self.send_error(*problem)

    def _owed(self, frame: dict) -> bool:
        """Whether this answer is one a command sent here is owed (and from now on, no longer)."""
        command_id = frame.get("command_id")
        owed = self.sent_here.get(command_id) if isinstance(command_id, str) else None
        if owed is None or frame["type"] not in owed:
            return False
        owed.discard(frame["type"])
        return True

    async def over_budget(self, now: float, *, answer: bool = False) -> None:
        """A frame beyond the budget: dropped unread. The device hears so (at most once a second);
        over budget for `device_flood_close_after` seconds in a row, it is disconnected (4429)."""
        if self.over_since is None or now - self.last_refused > 1.0:
            self.over_since = now
        self.last_refused = now
        if now - self.over_since >= conf.device_flood_close_after():
            log.warning("device %s kept sending over its frame budget: disconnected", getattr(self.device, "pk", None))
            self.closing = True
            await self.close(code=CLOSE_RATE_LIMITED)
            # The frames it queued meanwhile are not worth reading: the device is gone from
            # presence now, not once daphne has delivered its backlog.
            await self._count_down()
            raise StopConsumer()
        if now - self.last_warned >= 1.0:
            self.last_warned = now
            rate, burst, kind = (
                (conf.device_answer_rate(), conf.device_answer_burst(), "ack/result frames beyond those owed")
                if answer
                else (conf.device_frame_rate(), conf.device_frame_burst(), "status frames")
            )
            await self.send_error(
                "rate_limited",
                f"Too many frames: at most {rate:g} {kind} a second (bursts of {burst:g});"
                " this frame and those above the budget are dropped.",
            )

    async def send_error(self, code: str, message: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "code": code, "message": message}))

    async def send_command(self, command: dict, *, fresh: bool = False) -> None:
        # Once per connection: a command created while the socket connects arrives both in the
        # backlog and over the group. Re-sends of unfinished commands happen on reconnect.
        if command["id"] in self.sent_here:
            return
        # Claimed right before it goes out, never a cancelled or expired command: a fresh one (from
        # the device's group) in Redis when it can be (claims.py), else against the database.
        try:
            layer = self.channel_layer if fresh else None
            claim = await db_retried_async(
                functools.partial(delivery.command_sending, self.device, command, layer=layer)
            )
        except DB_ERRORS:
            # Not sent, not remembered: the command stays as it is in the database, and the
            # resend sweep (queued) or the next connect (sent, delivered) brings it here again.
            log.exception("database unavailable while sending command %s", command["id"])
            return
        if claim is None:
            return
        self.sent_here[command["id"]] = set(ANSWER_TYPES)
        while len(self.sent_here) > SENT_MEMORY:
            self.sent_here.pop(next(iter(self.sent_here)))
        if not await self.send(text_data=json.dumps({"type": "command", "command": command})):
            self.sent_here.pop(command["id"], None)
            return
        await written_out()  # the frame goes out now, its record after
        try:
            await db_retried_async(functools.partial(delivery.command_sent, self.device, command, claim=claim))
        except DB_ERRORS:
            log.exception("database unavailable recording the send of command %s", command["id"])

    # Group events
    async def device_command(self, event):
        await self.send_command(event["command"], fresh=True)

    async def device_frame(self, event):
        await self.send(text_data=json.dumps(event["frame"], default=str))

    async def device_revoked(self, event):
        # What presence holds of the device since it connected says "not revoked": the closed
        # socket's console event must not say so after the revoke's own did.
        presence.presence_revoked(self.device, event.get("revoked_at"))
        await self.close(code=CLOSE_FORBIDDEN)
