"""Device presence from the websocket (the fleet feature replaces this with a bounded write-through)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.utils import timezone

from .models import Device


@database_sync_to_async
def _update(device_id, **fields) -> None:
    Device.objects.filter(pk=device_id).update(**fields)


async def presence_connected(device, *, scope=None) -> None:
    await _update(device.pk, online=True, last_seen=timezone.now())


async def presence_disconnected(device) -> None:
    await _update(device.pk, online=False, last_seen=timezone.now())


async def presence_status(device, frame: dict) -> tuple[str, str] | None:
    recording = frame.get("recording")
    if not isinstance(recording, bool):
        return ("invalid", "status.recording must be true or false.")
    await _update(device.pk, recording=recording, last_seen=timezone.now())
    return None
