"""Group names and the one way code outside a consumer pushes to websockets: after commit."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

CONSOLE_GROUP = "console"


def device_group(device_id) -> str:
    return f"device.{device_id}"


def group_send_now(group: str, message: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(group, message)


def group_send_quietly(group: str, message: dict) -> bool:
    """group_send_now, but a channel layer that cannot be reached is logged, not raised: once a
    write is committed, a failed push must not turn its answer into a 500 (whoever depends on
    the push catches up from the database: a device on reconnect or by a sweep)."""
    try:
        group_send_now(group, message)
    except Exception:
        log.warning("channel layer send to %s failed", group, exc_info=True)
        return False
    return True


def group_send_after_commit(group: str, message: dict) -> None:
    """Sends once the surrounding transaction commits (at once outside one); never raises."""
    transaction.on_commit(lambda: group_send_quietly(group, message))


def console_event_after_commit(event_type: str, key: str, payload: dict) -> None:
    """Pushes {"type": event_type, key: payload} to every open console socket, after commit."""
    group_send_after_commit(CONSOLE_GROUP, {"type": "console.event", "event": {"type": event_type, key: payload}})
