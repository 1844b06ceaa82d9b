"""What the device side tells the apps above it, without knowing them (they subscribe).

Sent from the device websocket's presence handling (apps/devices/presence.py), in a database
thread, once per change, and from device_revoke (apps/devices/services.py); receivers may use
the ORM. Each carries `device_id` (a string). A receiver that fails is logged; the others run.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

log = logging.getLogger(__name__)


def announce(signal: Signal, device_id: str, **extra) -> None:
    """Sends `signal` to every receiver; one that fails is logged and never stops the sender."""
    from .models import Device

    for receiver, result in signal.send_robust(sender=Device, device_id=device_id, **extra):
        if isinstance(result, Exception):
            log.error("%s receiver %r failed", signal, receiver, exc_info=result)


# The camera reported that it stopped recording (a status frame: recording true -> false).
recording_stopped = Signal()

# The device's last open socket closed (no process holds a connection for it any more).
device_disconnected = Signal()

# A socket of the device opened (a first connection or a reconnection). Also carries
# `connected_at` (a datetime): frames sent to the device's group after it reach this socket,
# frames sent before it did not.
device_connected = Signal()

# IT revoked the device: sent in the revoking transaction, before its sockets are closed (so a
# receiver ends what the device was doing as revoked, not as a disconnection).
device_revoked = Signal()

# A question, not news: a camera declares a recording made for the command `command_id` (a
# UUID). Each receiver answers False when that command was sent to another device than `device`
# (the Device) or the registration it took over from; the declaration is refused then.
# Sent with send(), so that a receiver that fails fails the declaration, not the check.
command_sent_to_device = Signal()
