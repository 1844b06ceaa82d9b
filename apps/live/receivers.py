"""Live view reacts to what the device side reports (apps.devices.signals), without it knowing us."""

from __future__ import annotations

from apps.devices import signals

from . import services
from .models import EndReason


def on_recording_stopped(sender, *, device_id, **kwargs) -> None:
    services.live_end_for_device(device_id=device_id, end_reason=EndReason.RECORDING_STOPPED)


def on_device_disconnected(sender, *, device_id, **kwargs) -> None:
    services.live_end_for_device(device_id=device_id, end_reason=EndReason.DISCONNECTED)


def on_device_revoked(sender, *, device_id, **kwargs) -> None:
    services.live_end_for_device(device_id=device_id, end_reason=EndReason.REVOKED)


def on_device_connected(sender, *, device_id, connected_at, **kwargs) -> None:
    services.live_device_connected(device_id=device_id, connected_at=connected_at)


def connect() -> None:
    signals.recording_stopped.connect(on_recording_stopped, dispatch_uid="live.recording_stopped")
    signals.device_disconnected.connect(on_device_disconnected, dispatch_uid="live.device_disconnected")
    signals.device_connected.connect(on_device_connected, dispatch_uid="live.device_connected")
    signals.device_revoked.connect(on_device_revoked, dispatch_uid="live.device_revoked")
