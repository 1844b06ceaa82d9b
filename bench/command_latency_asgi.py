"""Bench-only ASGI app for bench/command_latency.py: rtcc's application plus /ws/bench/?group=NAME,
a bare consumer that joins a group and forwards `bench.ping` events untouched (the baseline).

Served by `daphne command_latency_asgi:application` with bench/ on PYTHONPATH; never deployed.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc.settings")

import django

django.setup()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from rtcc.asgi import application as rtcc_application  # noqa: E402
from rtcc.routing import websocket_urlpatterns  # noqa: E402


class BarePingConsumer(AsyncWebsocketConsumer):
    """The bare channel layer: a group event in, the same text out. No database, no checks."""

    group = None

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.group = query.get("group", [""])[0]
        if not self.group.startswith("bench."):
            await self.close(code=4400)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def bench_ping(self, event):
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter(
    {
        "http": rtcc_application,
        "websocket": AuthMiddlewareStack(
            URLRouter([path("ws/bench/", BarePingConsumer.as_asgi()), *websocket_urlpatterns])
        ),
    }
)
