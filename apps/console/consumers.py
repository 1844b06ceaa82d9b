"""The console websocket: live events for operators and IT, each filtered by the audience its
type has in apps.core.realtime.CONSOLE_EVENTS. Session (browser) or bearer token auth."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlparse

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from apps.accounts.authentication import token_for_bearer
from apps.accounts.models import User
from apps.accounts.sessions import session_usable
from apps.accounts.tokens import bearer_from_header
from apps.core.realtime import (
    CONSOLE_GROUP,
    CONSOLE_ROLES,
    DirectDispatch,
    SurvivesLayerOutage,
    console_may_see,
    credential_group,
    person_group,
    scope_header,
    stay_in_groups,
)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
# After the channel layer failed under a socket, what was published meanwhile never reached it:
# once the layer answers again the console is told to reload from the API, as after a reconnect.
RESYNC = {"type": "resync"}


class ConsoleConsumer(DirectDispatch, SurvivesLayerOutage, AsyncWebsocketConsumer):
    role: str | None = None

    async def connect(self):
        user, credential = await database_sync_to_async(console_user)(self.scope)
        if user is None or not user.has_role(*CONSOLE_ROLES):
            await self.accept()  # to close with a code the console can tell apart
            await self.close(code=CLOSE_UNAUTHORIZED if user is None else CLOSE_FORBIDDEN)
            return
        self.user = user
        self.role = user.effective_role
        # The person's group (deactivation, a new password, a role change) and the credential's
        # (its logout) close the socket; the console group brings the events.
        self.own_groups = [person_group(user.pk), credential_group(credential)]
        # In the groups before the socket is open: an event sent once the console sees it open
        # reaches it (joined after accept(), the first events could miss a console just opened).
        for group in self.own_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.channel_layer.group_add(CONSOLE_GROUP, self.channel_name)
        await self.accept()
        # After a Redis restart the groups are forgotten: join them again now and then.
        self.rejoin = stay_in_groups(
            self.channel_layer,
            self.channel_name,
            [*self.own_groups, CONSOLE_GROUP],
            trouble=getattr(self, "layer_trouble", None),
        )
        self.resync = asyncio.ensure_future(self._resync_after_outages()) if self.layer_trouble else None

    async def _resync_after_outages(self) -> None:
        """Each time the layer failed under this socket (Redis away): once it answers again, the
        groups joined anew, a `resync` frame tells the console to reload what it shows."""
        trouble = self.layer_trouble
        assert trouble is not None
        while True:
            await trouble.wait()
            pause = 0.5
            while True:
                await asyncio.sleep(pause)
                try:
                    for group in [*self.own_groups, CONSOLE_GROUP]:
                        await self.channel_layer.group_add(group, self.channel_name)
                    break
                except Exception:  # still away
                    pause = min(pause * 2, 5.0)
            trouble.clear()
            if self.role is not None:
                await self.send(text_data=json.dumps(RESYNC))

    async def disconnect(self, code):
        for task in (getattr(self, "rejoin", None), getattr(self, "resync", None)):
            if task is not None:
                task.cancel()
        await self.channel_layer.group_discard(CONSOLE_GROUP, self.channel_name)
        for group in getattr(self, "own_groups", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def console_close(self, message):
        """The person was deactivated, got a new password or another role, or the credential the
        socket was opened with ended (apps.core.realtime: close_person_sockets_after_commit,
        close_credential_sockets_after_commit)."""
        self.role = None  # nothing more goes out, even before the close completes
        await self.close(code=message.get("code", CLOSE_UNAUTHORIZED))

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


DEFAULT_PORTS = {"http": 80, "https": 443}


def same_site_origin(scope) -> bool:
    """A browser's Origin (when it sends one) must be the page's own origin, scheme, host and
    port alike: a session cookie alone would otherwise let another site (or another port or
    plain-HTTP page on our host) open the console socket (cross-site websocket hijacking).

    Behind the TLS proxy the socket itself is plain; the proxy's X-Forwarded-Proto says https.
    A browser cannot set that header on a websocket, and whoever can set it can set Origin too."""
    origin = scope_header(scope, b"origin")
    if origin is None:
        return True
    host = scope_header(scope, b"host")
    if host is None:
        return False
    parsed = urlparse(origin.decode("latin-1"))
    if parsed.scheme not in DEFAULT_PORTS or not parsed.hostname:
        return False  # "null" and other opaque origins
    forwarded = (scope_header(scope, b"x-forwarded-proto") or b"").decode("latin-1").split(",")[0].strip().lower()
    scheme = (
        forwarded if forwarded in DEFAULT_PORTS else ("https" if scope.get("scheme") in ("wss", "https") else "http")
    )
    domain, port = split_domain_port(host.decode("latin-1"))
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    try:
        origin_port = parsed.port or DEFAULT_PORTS[parsed.scheme]
        host_port = int(port) if port else DEFAULT_PORTS[scheme]
    except ValueError:
        return False
    return (parsed.scheme, parsed.hostname.lower(), origin_port) == (scheme, domain.lower(), host_port)


def console_user(scope) -> tuple[User | None, str]:
    """The person behind a console socket and the credential it was opened with (an API token's
    id, or the session's key): bearer token first, then the session (same-site only)."""
    token = bearer_from_header(scope_header(scope, b"authorization"))
    if token:
        record = token_for_bearer(token)
        return (record.user, str(record.pk)) if record else (None, "")
    user = scope.get("user")
    session = scope.get("session")
    # Only a session the login policy opened, not idle past its timeout.
    signed_in = user is not None and user.is_authenticated and hasattr(user, "has_role")
    if (
        signed_in
        and session is not None
        and session_usable(session)
        and same_site_origin(scope)
        and session.session_key
    ):
        return user, session.session_key
    return None, ""
