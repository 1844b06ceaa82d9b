"""What the device side tells the apps above it, without knowing them (they subscribe).

Sent from the device websocket's presence handling (apps/devices/presence.py), in a database
thread, once per change; receivers may use the ORM. Each carries `device_id` (a string).
"""

from __future__ import annotations

from django.dispatch import Signal

# The camera reported that it stopped recording (a status frame: recording true -> false).
recording_stopped = Signal()

# The device's last open socket closed (no process holds a connection for it any more).
device_disconnected = Signal()

# A socket of the device opened (a first connection or a reconnection). Also carries
# `connected_at` (a datetime): frames sent to the device's group after it reach this socket,
# frames sent before it did not.
device_connected = Signal()
