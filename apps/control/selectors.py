"""Reads of recording commands: one command, a device's history, what a device still has to get.

A command past its TTL that the device never acknowledged reads as `expired` at once, computed
here; the expiry is recorded (state, audit event, console update) by the sweep or by the task a
reader queues (services.commands_expire_soon). Nothing here writes."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.core.errors import NotFound
from apps.devices.models import Device

from .models import OPEN_STATES, UNACKED_STATES, Command, CommandState


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


def expiry_due(command: Command, *, now: datetime | None = None) -> bool:
    """Past its TTL, never acknowledged, and not yet recorded as expired."""
    return command.state in UNACKED_STATES and command.expires_at <= (now or timezone.now())


def command_as_read(command: Command, *, now: datetime | None = None) -> Command:
    """The command as readers see it: `expired` (finished at its expiry) once its TTL ran out
    unacknowledged, even before that is recorded. The instance is changed, never saved."""
    if expiry_due(command, now=now):
        command.state = CommandState.EXPIRED
        command.finished_at = command.expires_at
    return command


def device_commands(*, device: Device, state: str | None = None, now: datetime | None = None) -> QuerySet[Command]:
    """A device's commands, newest first, filtered by the state readers see (see command_as_read)."""
    now = now or timezone.now()
    commands = Command.objects.filter(device=device)
    due = Q(state__in=UNACKED_STATES, expires_at__lte=now)
    if state == CommandState.EXPIRED:
        commands = commands.filter(Q(state=state) | due)
    elif state in UNACKED_STATES:
        commands = commands.filter(state=state).exclude(due)
    elif state:
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
