"""The console websocket: live events for operators and IT, each filtered by the audience its
type has in apps.core.realtime.CONSOLE_EVENTS. Session (browser) or bearer token auth."""

from __future__ import annotations

import json
from urllib.parse import urlparse

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from apps.accounts.authentication import token_for_bearer
from apps.accounts.tokens import bearer_from_header
from apps.core.realtime import CONSOLE_GROUP, CONSOLE_ROLES, console_may_see, scope_header

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


class ConsoleConsumer(AsyncWebsocketConsumer):
    role: str | None = None

    async def connect(self):
        user = await database_sync_to_async(console_user)(self.scope)
        await self.accept()
        if user is None:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        if not user.has_role(*CONSOLE_ROLES):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.role = user.effective_role
        await self.channel_layer.group_add(CONSOLE_GROUP, self.channel_name)

    async def disconnect(self, code):
        await self.channel_layer.group_discard(CONSOLE_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        pass  # the console only listens

    async def send_event(self, event: dict) -> None:
        if self.role is not None and console_may_see(self.role, event.get("type", "")):
            await self.send(text_data=json.dumps(event, default=str))

    # Group events
    async def console_event(self, message):
        await self.send_event(message["event"])

    async def console_events(self, message):
        """Several events in one group message (a batch): a frame each."""
        for event in message["events"]:
            await self.send_event(event)


def same_site_origin(scope) -> bool:
    """A browser's Origin (when it sends one) must be one of our hosts: a session cookie alone
    would otherwise let any web page open the console socket (cross-site websocket hijacking)."""
    origin = scope_header(scope, b"origin")
    if origin is None:
        return True
    parsed = urlparse(origin.decode("latin-1"))
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        return False  # "null" and other opaque origins
    domain, _port = split_domain_port(parsed.netloc)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def console_user(scope):
    """The person behind a console socket: bearer token first, then the session (same-site only)."""
    token = bearer_from_header(scope_header(scope, b"authorization"))
    if token:
        record = token_for_bearer(token)
        return record.user if record else None
    user = scope.get("user")
    if user is not None and user.is_authenticated and hasattr(user, "has_role"):
        return user if same_site_origin(scope) else None
    return None
