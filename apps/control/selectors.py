"""Reads of recording commands: one command, a device's history, what a device still has to get."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from apps.core.errors import NotFound
from apps.devices.models import Device

from .models import OPEN_STATES, Command


def device_get(*, device_id) -> Device:
    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        raise NotFound("No such device.")
    return device


def command_get(*, command_id) -> Command:
    command = Command.objects.filter(pk=command_id).first()
    if command is None:
        raise NotFound("No such command.")
    return command


def device_commands(*, device: Device, state: str | None = None) -> QuerySet[Command]:
    """A device's commands, newest first."""
    commands = Command.objects.filter(device=device)
    if state:
        commands = commands.filter(state=state)
    return commands.order_by("-created_at", "-id")


def commands_to_send(*, device_id) -> list[Command]:
    """Every unfinished, unexpired command for this device, oldest first (sent again on each connect).

    Unfinished includes `delivered` (acknowledged, no result yet), as PROTOCOL "Device websocket"
    says: a device that rebooted between its ack and acting gets it again; one that already
    acted dedupes it by id."""
    return list(
        Command.objects.filter(device_id=device_id, state__in=OPEN_STATES, expires_at__gt=timezone.now()).order_by(
            "created_at", "id"
        )
    )
