"""What apps.control answers to the device side's signals (apps/devices/signals.py)."""

from __future__ import annotations

from apps.devices import signals

from .models import Command


def was_command_sent_to(sender, device, command_id, **kwargs) -> bool:
    """False when the command was sent to another device than this one (or a revoked
    registration it took over from, however many times it was registered again). An id of no
    command here is not refused: one sent before the commands' rows were purged, or by another
    system, says nothing against the camera."""
    sent_to = Command.objects.filter(pk=command_id).values_list("device_id", flat=True).first()
    if sent_to is None:
        return True
    registration = device
    while registration is not None:  # this device, or any registration it took over from
        if registration.pk == sent_to:
            return True
        registration = registration.replaces
    return False


def connect() -> None:
    signals.command_sent_to_device.connect(was_command_sent_to, dispatch_uid="control.command_sent_to_device")
