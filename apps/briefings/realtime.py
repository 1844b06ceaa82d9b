"""Delivery state for the console: `delivery.update` events, sent after commit, many at once."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from apps.core.realtime import CONSOLE_GROUP

log = logging.getLogger(__name__)


def _time(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def delivery_payload(row) -> dict:
    """The contract's delivery shape (also what GET /briefings/{id}/deliveries lists)."""
    return {
        "id": str(row.pk),
        "briefing": str(row.briefing_id),
        "officer": str(row.officer_id),
        "device": str(row.device_id) if row.device_id else None,
        "state": row.state,
        "attempts": row.attempts,
        "sent_at": _time(row.sent_at),
        "acknowledged_at": _time(row.acknowledged_at),
        "error": row.error or None,
        "updated_at": _time(row.updated_at),
    }


def _send_now(events: list[dict]) -> None:
    async def send_all() -> None:
        layer = get_channel_layer()
        await asyncio.gather(*(layer.group_send(CONSOLE_GROUP, {"type": "console.event", "event": event})
                               for event in events))

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
