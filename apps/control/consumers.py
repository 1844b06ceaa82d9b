"""The device websocket. Thin: each frame type is handled by its domain.

Device frames: `status` -> apps.devices.presence; `ack`/`result` -> apps.control.delivery.
Group events: `device.command` (send a command), `device.revoked` (close 4403).
The console websocket lives in apps.console.consumers.
"""

from __future__ import annotations

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.accounts.tokens import bearer_from_header
from apps.core.realtime import device_group, scope_header
from apps.devices import presence
from apps.devices.authentication import device_for_token

from . import delivery

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
MAX_FRAME = 64 * 1024
SENT_MEMORY = 1024


class DeviceConsumer(AsyncWebsocketConsumer):
    device = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent_here: dict[str, None] = {}  # command ids sent on this connection, oldest first

    async def dispatch(self, message):
        # Channels closes stale DB connections before EVERY message with a hop to the database
        # thread, which triples the cost of a status frame. Every database call made for a device
        # frame goes through database_sync_to_async, which does that itself: frames skip the hop.
        if message["type"] != "websocket.receive":
            await super().dispatch(message)
            return
        await self.websocket_receive(message)

    async def connect(self):
        token = bearer_from_header(scope_header(self.scope, b"authorization"))
        device = await database_sync_to_async(device_for_token)(token)
        await self.accept()
        if device is None:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        self.device = device
        await self.channel_layer.group_add(device_group(device.id), self.channel_name)
        await presence.presence_connected(device, scope=self.scope)
        for command in await delivery.commands_on_connect(device):
            await self.send_command(command)

    async def disconnect(self, code):
        if self.device is None:
            return
        await self.channel_layer.group_discard(device_group(self.device.id), self.channel_name)
        await presence.presence_disconnected(self.device)

    async def receive(self, text_data=None, bytes_data=None):
        if self.device is None:
            return
        if text_data is None or len(text_data) > MAX_FRAME:
            await self.send_error("bad_frame", "Frames must be JSON text of at most 64 KiB.")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
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
        problem = await handler(self.device, frame)
        if problem:
            await self.send_error(*problem)

    async def send_error(self, code: str, message: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "code": code, "message": message}))

    async def send_command(self, command: dict) -> None:
        # Once per connection: a command created while the socket connects arrives both in the
        # backlog and over the group. Re-sends of unfinished commands happen on reconnect.
        if command["id"] in self.sent_here:
            return
        # Checked against the database right before it goes out: never a cancelled or expired command.
        claim = await delivery.command_sending(self.device, command)
        if claim is None:
            return
        self.sent_here[command["id"]] = None
        while len(self.sent_here) > SENT_MEMORY:
            self.sent_here.pop(next(iter(self.sent_here)))
        await self.send(text_data=json.dumps({"type": "command", "command": command}))
        await delivery.command_sent(self.device, command, claim=claim)

    # Group events
    async def device_command(self, event):
        await self.send_command(event["command"])

    async def device_revoked(self, event):
        await self.close(code=CLOSE_FORBIDDEN)
