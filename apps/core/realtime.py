"""Group names and the one way code outside a consumer pushes to websockets: after commit."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

CONSOLE_GROUP = "console"


def device_group(device_id) -> str:
    return f"device.{device_id}"


def group_send_now(group: str, message: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(group, message)


def group_send_after_commit(group: str, message: dict) -> None:
    """Sends once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: group_send_now(group, message))


def console_event_after_commit(event_type: str, key: str, payload: dict) -> None:
    """Pushes {"type": event_type, key: payload} to every open console socket, after commit."""
    group_send_after_commit(CONSOLE_GROUP, {"type": "console.event", "event": {"type": event_type, key: payload}})


def device_frame_after_commit(device_id, frame: dict) -> None:
    """Sends `frame` unchanged to the device's open socket, in whichever process holds it, after
    commit: the device consumer forwards every `device.frame` group event as it is. For feature
    apps that speak to devices (live view) without the consumer knowing them."""
    group_send_after_commit(device_group(device_id), {"type": "device.frame", "frame": frame})
