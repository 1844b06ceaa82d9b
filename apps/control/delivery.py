"""Command delivery over the device websocket (filled in by the remote recording feature)."""

from __future__ import annotations


async def commands_on_connect(device) -> list[dict]:
    """Every unfinished, unexpired command for this device, oldest first, as command frames."""
    return []


async def command_sent(device, command: dict) -> None:
    return None


async def command_ack(device, frame: dict) -> tuple[str, str] | None:
    return ("unknown_command", "No such command for this device.")


async def command_result(device, frame: dict) -> tuple[str, str] | None:
    return ("unknown_command", "No such command for this device.")
