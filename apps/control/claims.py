"""The fast claim of a fresh command, so its frame goes out without a database round trip first.

A command arriving over the device's group (created a moment ago in another process) used to be
claimed with a conditional UPDATE (queued -> sent) before the frame went out: a hop to the
database thread, a pooled connection's check, the UPDATE and its commit, on the path between the
operator's POST and the device. With the Redis channel layer it is claimed in Redis instead:
`SET rtcc:command-claim:<id> sent NX` on the layer's own server, one round trip from the event
loop, and the database records the send (queued -> sent, audit, console) right after the frame
went out (services.command_record_fast_send).

The guarantees stay, with the claim key as the point that orders a send against a cancel:
- never sent after a cancel: a cancel first sets the same key (`cancelled`, NX). If the consumer
  set it first, the send came first (a sent command may be cancelled, as before: the cancel wins
  in the database); if the cancel did, the consumer's claim fails and it asks the database, which
  says cancelled;
- never sent after expiry: the fast claim is taken only while the command has more than
  FAST_CLAIM_MARGIN_S left before its `expires_at` (the same clock as the sweep's); closer than
  that, the database decides (and expires it);
- a second claim (another socket of the device, the resend sweep, a replayed group message)
  fails and goes to the database, which answers "again" or nothing, as before.
Without Redis (the in-memory layer), or when Redis errs, every claim goes to the database.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from apps.core.redisclients import shared_client

log = logging.getLogger(__name__)

KEY = "rtcc:command-claim:{}"
FAST_CLAIM_MARGIN_S = 1.0  # less than this before expiry: the database decides
KEEP_AFTER_EXPIRY_S = 3600  # the key outlives the command's expiry by this much


def _layer_connection(layer, key: str):
    """The layer's async Redis client for this key, or None (not a Redis layer)."""
    if not hasattr(layer, "consistent_hash") or not hasattr(layer, "connection"):
        return None
    return layer.connection(layer.consistent_hash(key))


def _ttl_ms(expires_at: datetime) -> int:
    left = (expires_at - timezone.now()).total_seconds()
    return int(max(left, 0) + KEEP_AFTER_EXPIRY_S) * 1000


async def claim_for_send(layer, command: dict) -> bool:
    """True: this consumer may send this command now, first (the database is told afterwards).
    False: not decided here: ask the database (services.command_claim_send)."""
    try:
        expires_at = datetime.fromisoformat(command["expires_at"])
    except (KeyError, TypeError, ValueError):
        return False
    if (expires_at - timezone.now()).total_seconds() <= FAST_CLAIM_MARGIN_S:
        return False
    key = KEY.format(command["id"])
    try:
        connection = _layer_connection(layer, key)
        if connection is None:
            return False
        return bool(await connection.set(key, "sent", nx=True, px=_ttl_ms(expires_at)))
    except Exception as exc:  # Redis unreachable: the database decides
        log.warning("fast claim of command %s unavailable, asking the database: %s", command.get("id"), exc)
        return False


def close_for_send(*, command_id, expires_at: datetime) -> bool:
    """Before a cancel: no fast claim of this command succeeds from now on (sync code). False
    when the layer's Redis could not be told: a consumer of another process might still take a
    fast claim and send, so the caller must not cancel now (services.command_cancel: 503)."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if not hasattr(layer, "consistent_hash") or not hasattr(layer, "hosts"):
        return True  # the in-memory layer: there are no fast claims
    key = KEY.format(command_id)
    try:
        host = layer.hosts[layer.consistent_hash(key)]
        address = str(host.get("address") if isinstance(host, dict) else host)
        shared_client(address).set(key, "cancelled", nx=True, px=_ttl_ms(expires_at))
    except Exception:
        # Redis unreachable from here: another process may still reach it and take a fast claim,
        # so the cancel is refused (and asked again) rather than racing a send it cannot see.
        log.exception("could not close command %s for fast sends", command_id)
        return False
    return True
