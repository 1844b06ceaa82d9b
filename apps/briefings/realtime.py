"""Delivery state for the console: `delivery.update` events, sent after commit, many at once."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from apps.core.realtime import CONSOLE_GROUP

log = logging.getLogger(__name__)
EVENTS_PER_MESSAGE = 100


def _time(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


PAYLOAD_FIELDS = (
    "id",
    "briefing_id",
    "officer_id",
    "device_id",
    "state",
    "attempts",
    "sent_at",
    "acknowledged_at",
    "error",
    "updated_at",
)


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
        for start in range(0, len(events), EVENTS_PER_MESSAGE):
            await layer.group_send(
                CONSOLE_GROUP, {"type": "console.events", "events": events[start : start + EVENTS_PER_MESSAGE]}
            )

    try:
        async_to_sync(send_all)()
    except Exception:  # the console catches up from the API; a push must not fail over it
        log.exception("could not send %d delivery.update events to the console", len(events))


def delivery_events_after_commit(rows: list) -> None:
    """A {"type": "delivery.update", "delivery": {...}} console frame per row, after commit.

    Up to EVENTS_PER_MESSAGE events travel in one `console.events` group message, which the
    console consumer sends on as one frame each: a 10,000-phone briefing costs the channel
    layer 100 messages rather than 10,000 (and no console socket's channel overflows).
    """
    events = [{"type": "delivery.update", "delivery": delivery_payload(row)} for row in rows]
    if events:
        transaction.on_commit(lambda: _send_now(events))
