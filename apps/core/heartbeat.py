"""Heartbeats of the background processes, so their absence shows (in /readyz and on the console).

Each `celery worker` (from its consumer's event loop, so a worker that stopped consuming stops
beating) and `celery beat` (from its scheduler loop) records "still here" in Redis every
RTCC_HEARTBEAT_INTERVAL seconds: one sorted set per role, member = the process's name, score =
the time. A process that stops cleanly moves itself to a second set (the time it stopped, kept
STOPPED_KEPT), so that its absence reads "stopped N s ago" rather than "never seen", which looks
like a wrong REDIS_URL; one that dies is stale after RTCC_HEARTBEAT_MAX_AGE seconds. On the
embedded default (no Redis) tasks and the schedule run in the web process itself, so both are
reported as running.

Every Redis call here uses its own client with one-second timeouts: a health check never hangs
on a busy or dead Redis, and never waits behind the channel layer's traffic.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from celery import bootsteps
from celery.beat import PersistentScheduler
from django.conf import settings

log = logging.getLogger(__name__)

ROLES = ("worker", "beat")
KEY = "rtcc:heartbeat:{role}"
STOPPED_KEY = "rtcc:heartbeat:{role}:stopped"  # member = the process's name, score = when it stopped
STOPPED_KEPT = 7 * 86400  # a planned stop still reads as one after a weekend
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def interval() -> float:
    return float(getattr(settings, "RTCC_HEARTBEAT_INTERVAL", 5))


def max_age() -> float:
    return float(getattr(settings, "RTCC_HEARTBEAT_MAX_AGE", 20))


def redis_url() -> str | None:
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


def client(url: str):
    """A Redis client for health traffic only: short timeouts, a small pool of its own."""
    import redis

    with _clients_lock:
        found = _clients.get(url)
        if found is None:
            found = redis.Redis.from_url(
                url, socket_timeout=1, socket_connect_timeout=1, max_connections=4, retry_on_timeout=False
            )
            _clients[url] = found
        return found


def process_name(role: str) -> str:
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def beat(role: str, name: str | None = None) -> bool:
    """Records that this process is alive now; False (logged) when Redis cannot be reached."""
    url = redis_url()
    if url is None:
        return False
    key = KEY.format(role=role)
    now = time.time()
    try:
        pipe = client(url).pipeline(transaction=False)
        pipe.zadd(key, {name or process_name(role): now})
        pipe.zremrangebyscore(key, "-inf", now - 10 * max_age())  # forget long-dead processes
        pipe.expire(key, int(10 * max_age()) + 1)
        pipe.execute()
    except Exception as exc:
        log.warning("heartbeat of %s not recorded: %s", role, exc)
        return False
    return True


def forget(role: str, name: str | None = None) -> None:
    """A process stopping cleanly: it is gone at once, not after the max age, and the time it
    stopped is kept for /readyz to say so."""
    url = redis_url()
    if url is None:
        return
    name = name or process_name(role)
    stopped = STOPPED_KEY.format(role=role)
    now = time.time()
    try:
        pipe = client(url).pipeline(transaction=False)
        pipe.zrem(KEY.format(role=role), name)
        pipe.zadd(stopped, {name: now})
        pipe.zremrangebyscore(stopped, "-inf", now - STOPPED_KEPT)
        pipe.expire(stopped, STOPPED_KEPT)
        pipe.execute()
    except Exception as exc:
        log.warning("heartbeat of %s not removed: %s", role, exc)


def status(role: str) -> dict:
    """{"ok": bool, "alive": [names], "last_seen_seconds_ago": float | None, "stopped": bool};
    `stopped`: the last one seen stopped cleanly (rather than died). Raises when Redis fails."""
    url = redis_url()
    if url is None:
        return {"ok": True, "alive": ["embedded"], "last_seen_seconds_ago": 0.0, "stopped": False}
    now = time.time()
    pipe = client(url).pipeline(transaction=False)
    pipe.zrangebyscore(KEY.format(role=role), now - 10 * max_age(), "+inf", withscores=True)
    pipe.zrevrange(STOPPED_KEY.format(role=role), 0, 0, withscores=True)
    entries, stops = pipe.execute()
    alive = [name.decode() for name, at in entries if at >= now - max_age()]
    last = max((at for _name, at in entries), default=None)
    stopped = bool(stops) and (last is None or stops[0][1] >= last)
    if stopped:
        last = stops[0][1]
    return {
        "ok": bool(alive),
        "alive": alive,
        "last_seen_seconds_ago": None if last is None else round(now - last, 1),
        "stopped": stopped and not alive,
    }


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A consumer bootstep: beats from the worker's own timer while the consumer runs."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.tref = None
        self.member = None

    def start(self, parent):
        self.member = process_name("worker")
        beat("worker", self.member)
        self.tref = parent.timer.call_repeatedly(interval(), beat, ("worker", self.member))

    def stop(self, parent):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        if self.member is not None:
            forget("worker", self.member)

    shutdown = stop


class HeartbeatScheduler(PersistentScheduler):
    """`celery beat`'s scheduler, beating from its loop (CELERY_BEAT_SCHEDULER)."""

    _last_beat = 0.0

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_beat >= interval():
            self._last_beat = now
            beat("beat")
        return min(super().tick(*args, **kwargs), interval())

    def close(self):
        forget("beat")
        super().close()
