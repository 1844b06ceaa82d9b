"""Delivery state for the console: `delivery.update` events, sent after commit, many at once."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from apps.core.realtime import CONSOLE_GROUP

log = logging.getLogger(__name__)
SEND_CONCURRENCY = 16  # group_sends in flight (each may hold a Redis connection)


def _time(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


PAYLOAD_FIELDS = ("id", "briefing_id", "officer_id", "device_id", "state", "attempts", "sent_at",
                  "acknowledged_at", "error", "updated_at")


def delivery_payload(row) -> dict:
    """The contract's delivery shape (also what GET /briefings/{id}/deliveries lists), from a
    Delivery or a .values(*PAYLOAD_FIELDS) dict."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    device = get("device_id")
    return {
        "id": str(get("id")),
        "briefing": str(get("briefing_id")),
        "officer": str(get("officer_id")),
        "device": str(device) if device else None,
        "state": get("state"),
        "attempts": get("attempts"),
        "sent_at": _time(get("sent_at")),
        "acknowledged_at": _time(get("acknowledged_at")),
        "error": get("error") or None,
        "updated_at": _time(get("updated_at")),
    }


def _send_now(events: list[dict]) -> None:
    async def send_all() -> None:
        layer = get_channel_layer()
        semaphore = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send(event: dict) -> None:
            async with semaphore:
                await layer.group_send(CONSOLE_GROUP, {"type": "console.event", "event": event})

        await asyncio.gather(*(send(event) for event in events))

    try:
        async_to_sync(send_all)()
    except Exception:  # the console catches up from the API; a push must not fail over it
        log.exception("could not send %d delivery.update events to the console", len(events))


def delivery_events_after_commit(rows: list) -> None:
    """One {"type": "delivery.update", "delivery": {...}} console event per row, after commit.

    The same event apps.core.realtime.console_event_after_commit sends, but a batch of 500
    rows goes out concurrently in one event-loop run instead of 500 round trips in a row.
    """
    events = [{"type": "delivery.update", "delivery": delivery_payload(row)} for row in rows]
    if events:
        transaction.on_commit(lambda: _send_now(events))
