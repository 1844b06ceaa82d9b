"""Live device presence: the device websocket's status frames, kept where they are cheap and
written through to the Device row at a bounded rate.

The live copy of each device's presence lives in Redis (a hash per device, shared by every
daphne process) or, on the embedded default, in this process. Per frame the cost is one
in-memory update plus a share of one pipelined Redis write; the database sees a device at
most once per `presence_write_interval` plus on connect, disconnect and recording changes.
Readers (the API, the console) merge the live copy over the stored row (`merge_live`), so they
show current values. Online means at least one open socket (counted across processes) and a
sign of life within `presence_timeout`.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async
from django.db import DatabaseError, transaction

from apps.core.parsers import json_number
from apps.core.realtime import console_send

from . import conf, signals
from .models import Device
from .serializers import device_payload

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

KEY_PREFIX = "rtcc:presence:"
KEY_TTL = 24 * 3600
STORAGE_MAX_MB = 2**31 - 1
# Presence fields as they sit in the live copy; the Device columns have the same names.
LIVE_FIELDS = ("recording", "battery_pct", "storage_free_mb", "lat", "lon", "accuracy_m", "location_at", "last_seen")


def key(device_id) -> str:
    return f"{KEY_PREFIX}{device_id}"


# Validation -----------------------------------------------------------------------------------


def _whole(value: object) -> int | None:
    """A whole number as JSON may write it: 50, or 50.0 (some encoders write every number so);
    None for anything else (50.5, "50", true)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_status(frame: dict) -> tuple[dict | None, str | None]:
    """A status frame -> (live fields to set, None) or (None, what is wrong). Nothing is partial."""
    fields: dict = {}
    recording = frame.get("recording")
    if not isinstance(recording, bool):
        return None, "status.recording is required and must be true or false."
    fields["recording"] = recording
    if frame.get("battery_pct") is not None:
        battery = _whole(frame["battery_pct"])
        if battery is None or not 0 <= battery <= 100:
            return None, "status.battery_pct must be a whole number from 0 to 100."
        fields["battery_pct"] = battery
    if frame.get("storage_free_mb") is not None:
        storage = _whole(frame["storage_free_mb"])
        if storage is None or not 0 <= storage <= STORAGE_MAX_MB:
            return None, "status.storage_free_mb must be a whole number of at least 0."
        fields["storage_free_mb"] = storage
    location = frame.get("location")
    if location is not None:
        if not isinstance(location, dict):
            return None, "status.location must be an object with lat and lon."
        lat, lon = json_number(location.get("lat")), json_number(location.get("lon"))
        accuracy = location.get("accuracy_m")
        if lat is None or not -90 <= lat <= 90:
            return None, "status.location.lat must be a number from -90 to 90."
        if lon is None or not -180 <= lon <= 180:
            return None, "status.location.lon must be a number from -180 to 180."
        if accuracy is not None and ((accuracy := json_number(accuracy)) is None or accuracy < 0):
            return None, "status.location.accuracy_m must be a number of at least 0."
        fields.update(lat=lat, lon=lon, accuracy_m=accuracy, location_at=time.time())
    return fields, None


# The live copy ------------------------------------------------------------------------------
# Values are kept encoded as strings (as Redis holds them): "" stands for null, times are epochs.


def _encode(fields: dict) -> dict[str, str]:
    out = {}
    for name, value in fields.items():
        if value is None:
            out[name] = ""
        elif isinstance(value, bool):
            out[name] = "1" if value else "0"
        else:
            out[name] = repr(value) if isinstance(value, float) else str(value)
    return out


def _epoch_to_dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def decode(raw: dict) -> dict:
    """A live hash -> {"conn": int, "recording": bool, ..., "last_seen": datetime} (absent fields left out)."""
    state: dict = {}
    for name, value in raw.items():
        name = name.decode() if isinstance(name, bytes) else name
        value = value.decode() if isinstance(value, bytes) else value
        if name not in LIVE_FIELDS and name != "conn":
            continue
        if value == "":
            state[name] = None
        elif name == "recording":
            state[name] = value == "1"
        elif name in ("conn", "battery_pct", "storage_free_mb"):
            state[name] = int(value)
        elif name in ("last_seen", "location_at"):
            state[name] = _epoch_to_dt(float(value))
        else:
            state[name] = float(value)
    return state


class MemoryStore:
    """The embedded default: one process holds every socket, so a dict is the whole truth."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}
        self.lock = threading.Lock()

    async def add_connection(self, device_id: str, delta: int, fields: dict[str, str]) -> int:
        with self.lock:
            entry = self.data.setdefault(device_id, {})
            count = max(0, int(entry.get("conn") or 0) + delta)
            entry.update(fields, conn=str(count))
            return count

    def put(self, device_id: str, fields: dict[str, str]) -> None:
        with self.lock:
            self.data.setdefault(device_id, {}).update(fields)

    async def get(self, device_id: str) -> dict:
        with self.lock:
            return dict(self.data.get(device_id, {}))

    def get_many(self, device_ids: list[str]) -> dict[str, dict]:
        with self.lock:
            return {i: dict(self.data[i]) for i in device_ids if i in self.data}


# Sockets are counted per process (a hash field `conn@<process>` per device), and each process
# says it is alive in one sorted set (PROCESSES_KEY: process -> its last heartbeat, every
# HEARTBEAT_SECONDS from a thread). Readers add up the counts of the processes alive within
# PROCESS_TTL: the sockets of a process that crashed (kill -9, a lost machine) stop counting
# within PROCESS_TTL, and those of one that stops cleanly (SIGTERM: a deploy, a restart) at once,
# instead of keeping their devices "online" until no sign of life came for presence_timeout.
PROCESSES_KEY = KEY_PREFIX + "processes"
CONN_PREFIX = "conn@"
HEARTBEAT_SECONDS = 5.0
PROCESS_TTL = 20.0
PROCESS = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _CountGate:
    """Keeps a recount apart from the counting of single sockets, on this process's event loop.

    A socket is counted by a relative write (HINCRBY +1/-1) and a recount by an absolute one
    (HSET to the sockets held here). Were a recount's snapshot taken while a socket's count is on
    its way to Redis, the two would land in either order and the count would be one off until
    the device connected or disconnected again. So a recount waits for the counts in flight and
    holds new ones back while it writes; a socket's count changes here and in Redis together."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.drained: asyncio.Event | None = None
        self.recounting: asyncio.Event | None = None

    async def enter(self) -> None:
        while self.recounting is not None:
            await self.recounting.wait()
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self.drained is not None:
            self.drained.set()

    async def recount(self, write) -> None:
        while self.recounting is not None:  # one recount at a time
            await self.recounting.wait()
        self.recounting = asyncio.Event()
        try:
            while self.in_flight:
                self.drained = asyncio.Event()
                await self.drained.wait()
            await write()
        finally:
            self.recounting.set()
            self.recounting = self.drained = None


_gate = _CountGate()


async def _recount(live: RedisStore) -> None:
    """Writes this process's socket counts again (and each device's last sign of life), from the
    sockets it holds: after Redis lost them, its devices read online again within a heartbeat."""

    async def write() -> None:
        held = {device_id: local for device_id, local in _local.items() if local.sockets > 0}
        if not held:
            return
        pipe = live.client().pipeline(transaction=False)
        for device_id, local in held.items():
            fields = {CONN_PREFIX + PROCESS: str(local.sockets)}
            if local.device.last_seen is not None:
                fields.update(_encode({"last_seen": local.device.last_seen.timestamp()}))
            pipe.hset(key(device_id), mapping=fields)
            pipe.expire(key(device_id), KEY_TTL)
        await pipe.execute()
        log.warning("presence: Redis had lost this process's sockets; counted %d devices again", len(held))

    await _gate.recount(write)


def _counted(raw: dict, alive: set[str]) -> dict:
    """A device's live hash with its per-process socket counts added up, over the processes
    alive, into one `conn` field (what decode() reads)."""
    out: dict = {}
    total = 0
    for name, value in raw.items():
        if name.startswith(CONN_PREFIX):
            if name[len(CONN_PREFIX) :] in alive:
                total += max(0, int(value or 0))
        elif name != "conn":  # a count kept before counts were per process: not a socket of anyone now
            out[name] = value
    out["conn"] = str(total)
    return out


class RedisStore:
    """Shared by every daphne process: a hash per device; status writes are coalesced into
    one pipeline per event-loop turn, so a burst of frames costs a few round trips."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sync: redis.Redis | None = None
        self._async: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> client
        self._pending: dict[str, dict[str, str]] = {}
        self._flushing: asyncio.Task | None = None
        self._heartbeat: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _alive_since(self) -> float:
        return time.time() - PROCESS_TTL

    def _start_heartbeat(self) -> None:
        """From this process's first socket on: a thread says every HEARTBEAT_SECONDS that the
        process is alive (an event loop busy for seconds must not make its sockets vanish), and
        the process's counts stop counting when it exits."""
        if self._heartbeat is not None:
            return
        self._loop = asyncio.get_running_loop()  # where this process's sockets live
        self._heartbeat = threading.Thread(target=self._beat, name="rtcc-presence-heartbeat", daemon=True)
        self._heartbeat.start()
        atexit.register(self._retire)

    def _beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)  # the first socket's own count said alive just now
            try:
                client = self.sync_client()
                now = time.time()
                lost = client.zadd(PROCESSES_KEY, {PROCESS: now})  # 1: this process was not there
                client.zremrangebyscore(PROCESSES_KEY, "-inf", now - 24 * 3600)  # long gone
            except Exception as exc:  # Redis away: presence is down with it; beat again later
                log.warning("presence: heartbeat failed: %s", exc)
                continue
            loop = self._loop
            if lost and loop is not None and not loop.is_closed():
                # Redis restarted (or was flushed) and forgot this process's counts: without
                # them its devices would read offline, sockets open, until they reconnected.
                asyncio.run_coroutine_threadsafe(_recount(self), loop)

    def _retire(self) -> None:
        """At a clean exit: this process's sockets no longer count anywhere, at once."""
        try:
            self.sync_client().zrem(PROCESSES_KEY, PROCESS)
        except Exception as exc:
            log.warning("presence: could not retire this process: %s", exc)

    def client(self):
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url, max_connections=32, timeout=None, decode_responses=True
            )
            client = self._async[loop] = aioredis.Redis(connection_pool=pool)
        return client

    def sync_client(self):
        if self._sync is None:
            import redis

            self._sync = redis.Redis.from_url(self.url, decode_responses=True)
        return self._sync

    async def add_connection(self, device_id: str, delta: int, fields: dict[str, str]) -> int:
        """Counts this process's socket up or down; returns the device's sockets on every live process."""
        self._start_heartbeat()
        await self.flush()  # the frames before a disconnect land before it
        field = CONN_PREFIX + PROCESS
        pipe = self.client().pipeline(transaction=True)
        pipe.zadd(PROCESSES_KEY, {PROCESS: time.time()})  # alive, whatever the heartbeat's timing
        pipe.hincrby(key(device_id), field, delta)
        pipe.hset(key(device_id), mapping=fields)
        pipe.expire(key(device_id), KEY_TTL)
        pipe.hgetall(key(device_id))
        pipe.zrangebyscore(PROCESSES_KEY, self._alive_since(), "+inf")
        results = await pipe.execute()
        own, raw, alive = results[1], results[4], set(results[5])
        if own <= 0:  # none here (a count below zero cannot be a socket): keep the hash small
            await self.client().hdel(key(device_id), field)
        return int(_counted(raw, alive)["conn"])

    def put(self, device_id: str, fields: dict[str, str]) -> None:
        self._pending.setdefault(device_id, {}).update(fields)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            pipe = self.client().pipeline(transaction=False)
            for device_id, fields in batch.items():
                pipe.hset(key(device_id), mapping=fields)
                pipe.expire(key(device_id), KEY_TTL)
            try:
                await pipe.execute()
            except Exception:
                log.exception("presence: writing %d devices to Redis failed", len(batch))

    async def get(self, device_id: str) -> dict:
        await self.flush()
        pipe = self.client().pipeline(transaction=False)
        pipe.hgetall(key(device_id))
        pipe.zrangebyscore(PROCESSES_KEY, self._alive_since(), "+inf")
        raw, alive = await pipe.execute()
        return _counted(raw, set(alive)) if raw else {}

    def get_many(self, device_ids: list[str]) -> dict[str, dict]:
        if not device_ids:
            return {}
        pipe = self.sync_client().pipeline(transaction=False)
        pipe.zrangebyscore(PROCESSES_KEY, self._alive_since(), "+inf")
        for device_id in device_ids:
            pipe.hgetall(key(device_id))
        alive, *raws = pipe.execute()
        living = set(alive)
        return {i: _counted(raw, living) for i, raw in zip(device_ids, raws, strict=True) if raw}


_store = None
_store_url = None


def store() -> MemoryStore | RedisStore:
    global _store, _store_url
    url = conf.presence_redis_url()
    if _store is None or url != _store_url:
        _store, _store_url = (RedisStore(url) if url else MemoryStore()), url
    return _store


def presence_reset_at_start() -> int:
    """On the embedded default this one process holds every device socket, so none is open when
    it starts: rows still saying online (the run before stopped or crashed with sockets open)
    are set offline, not left "online" until 120 s without a sign of life. With Redis, other
    processes may hold sockets (their counts say so): nothing to do. Returns the rows reset."""
    if not isinstance(store(), MemoryStore):
        return 0
    try:
        return Device.objects.filter(online=True).update(online=False)
    except DatabaseError as exc:  # not migrated yet: nothing to reset
        log.warning("presence: could not reset the rows of a previous run: %s", exc)
        return 0


# Reading: the live copy merged over the stored row -----------------------------------------


def is_fresh(last_seen: datetime | None, now: float | None = None) -> bool:
    if last_seen is None:
        return False
    return (now or time.time()) - last_seen.timestamp() <= conf.presence_timeout()


def apply_live(device, state: dict | None, now: float | None = None):
    """Sets the device's presence attributes (in memory only) to the current values."""
    if state:
        for name in LIVE_FIELDS:
            if name in state:
                setattr(device, name, state[name])
        connected = (state.get("conn") or 0) > 0
    else:
        connected = device.online
    device.online = bool(connected and is_fresh(device.last_seen, now) and device.revoked_at is None)
    return device


def merge_live(devices: list) -> list:
    """The API's and console's view: every device's presence as it is now (one Redis round trip)."""
    if not devices:
        return devices
    try:
        states = store().get_many([str(d.pk) for d in devices])
    except Exception:  # Redis away: the stored rows (written through on connect) still answer
        log.exception("presence: reading the live copy failed; showing stored presence")
        states = {}
    now = time.time()
    for device in devices:
        raw = states.get(str(device.pk))
        apply_live(device, decode(raw) if raw else None, now)
    return devices


# Writing: the websocket side ---------------------------------------------------------------


class _Local:
    """What this process knows about a device it holds a socket for. The presence values live
    on the device instance itself (the one the consumer authenticated), updated by every frame."""

    __slots__ = ("conn", "console_timer", "device", "dirty", "last_console", "last_written", "sockets")

    def __init__(self, device) -> None:
        self.device = device
        self.sockets = 0  # this process's sockets for the device
        self.conn = 0  # every process's sockets, as last counted
        self.dirty = False  # frames since the last write-through
        self.last_written = 0.0
        self.last_console = 0.0
        self.console_timer: asyncio.TimerHandle | None = None


_local: dict[str, _Local] = {}
_db_pending: dict[str, dict] = {}
_db_flushing: asyncio.Task | None = None
_console_pending: dict[str, _Local] = {}  # devices with a console event to send, oldest first
_console_sending: asyncio.Task | None = None
stats = {"frames": 0, "db_rows": 0, "console_events": 0}


def _db_fields(fields: dict) -> dict:
    out = dict(fields)
    for name in ("last_seen", "location_at"):
        if isinstance(out.get(name), float):
            out[name] = _epoch_to_dt(out[name])
    return out


def _row(device) -> dict:
    """The device's presence columns as this process knows them now."""
    return {name: getattr(device, name) for name in LIVE_FIELDS}


def _write_rows(batch: dict[str, dict]) -> dict[str, tuple]:
    """One transaction for every due write-through; returns the rows' current assignee and label."""
    with transaction.atomic():
        for device_id, fields in batch.items():
            Device.objects.filter(pk=device_id).update(**_db_fields(fields))
    return {
        str(pk): (officer_id, label)
        for pk, officer_id, label in Device.objects.filter(pk__in=list(batch)).values_list("pk", "officer_id", "label")
    }


async def _db_flush() -> None:
    while _db_pending:
        batch = dict(_db_pending)
        _db_pending.clear()
        try:
            current = await database_sync_to_async(_write_rows)(batch)
        except Exception:
            log.exception("presence: writing %d devices to the database failed", len(batch))
            continue
        stats["db_rows"] += len(batch)
        # the console payload names the assignee: keep it no staler than one write interval
        for device_id, (officer_id, label) in current.items():
            local = _local.get(device_id)
            if local is not None:
                local.device.officer_id, local.device.label = officer_id, label


def _write_through(device_id: str, fields: dict) -> None:
    global _db_flushing
    _db_pending.setdefault(device_id, {}).update(fields)
    if _db_flushing is None or _db_flushing.done():
        _db_flushing = asyncio.get_running_loop().create_task(_db_flush())


async def flush() -> None:
    """Waits until every pending live and database write of this process is done (tests, shutdown)."""
    live = store()
    if isinstance(live, RedisStore):
        await live.flush()
    while _db_flushing is not None and not _db_flushing.done():
        await asyncio.shield(_db_flushing)


def _console_due(local: _Local, *, force: bool) -> bool:
    """Whether a console event goes out now; if not, one is scheduled for when the interval ends,
    so the console never keeps a value older than one interval."""
    now = time.monotonic()
    wait = conf.presence_console_interval() - (now - local.last_console)
    if force or wait <= 0:
        local.last_console = now
        if local.console_timer is not None:
            local.console_timer.cancel()
            local.console_timer = None
        return True
    if local.console_timer is None:
        local.console_timer = asyncio.get_running_loop().call_later(wait, _console_trailing, local)
    return False


def _console_trailing(local: _Local) -> None:
    local.console_timer = None
    if _local.get(str(local.device.pk)) is local and _console_due(local, force=True):
        _console(local)


def _console(local: _Local) -> None:
    """Queues a `device.status` event for the console (callers rate-limit with `_console_due`).

    One task sends them one at a time, and the payload is built when it goes out: a burst (a
    fleet reconnecting) coalesces to the newest state per device instead of piling up payloads
    or opening a channel-layer connection per event.
    """
    global _console_sending
    device_id = str(local.device.pk)
    _console_pending.pop(device_id, None)
    _console_pending[device_id] = local
    if _console_sending is None or _console_sending.done():
        _console_sending = asyncio.get_running_loop().create_task(_console_send())


def _console_payload(local: _Local) -> dict:
    device = local.device
    payload = device_payload(device)
    payload["online"] = bool(local.conn > 0 and device.revoked_at is None and is_fresh(device.last_seen))
    return payload


async def _console_send() -> None:
    while _console_pending:
        device_id = next(iter(_console_pending))
        payload = _console_payload(_console_pending.pop(device_id))
        if await console_send("device.status", payload):
            stats["console_events"] += 1


async def presence_connected(device, *, scope=None) -> None:
    device_id = str(device.pk)
    now = time.time()
    await _gate.enter()
    try:
        local = _local.get(device_id)
        if local is None:
            local = _local[device_id] = _Local(device)
        local.sockets += 1
        local.conn = await store().add_connection(device_id, +1, _encode({"last_seen": now}))
    finally:
        _gate.leave()
    local.device.last_seen = _epoch_to_dt(now)
    _write_through(device_id, {"online": True, "last_seen": now})
    local.last_written = time.monotonic()
    if _console_due(local, force=True):
        _console(local)
    # `now` is after the socket joined the device's group (the consumer joins first): what was
    # sent to the group after it reached this socket, what was sent before it did not.
    await _signal(signals.device_connected, device_id, connected_at=_epoch_to_dt(now))


async def presence_status(device, frame: dict) -> tuple[str, str] | None:
    fields, problem = parse_status(frame)
    if fields is None:
        return ("invalid", str(problem))
    device_id = str(device.pk)
    now = time.time()
    fields["last_seen"] = now
    stats["frames"] += 1
    store().put(device_id, _encode(fields))
    local = _local.get(device_id)
    if local is None:  # a status without a connect (should not happen): count it as one socket
        local = _local[device_id] = _Local(device)
        local.sockets = local.conn = 1
    held = local.device
    changed = fields["recording"] != held.recording
    for name, value in _db_fields(fields).items():
        setattr(held, name, value)
    local.dirty = True
    mono = time.monotonic()
    if changed or mono - local.last_written >= conf.presence_write_interval():
        _write_through(device_id, {**_row(held), "online": True})
        local.dirty = False
        local.last_written = mono
    if _console_due(local, force=changed):
        _console(local)
    if changed and not fields["recording"]:
        await _signal(signals.recording_stopped, device_id)
    return None


async def _signal(signal, device_id: str, **extra) -> None:
    """Tells the apps above (receivers use the ORM: a database thread, only when someone listens)."""
    if signal.has_listeners():
        await database_sync_to_async(signals.announce)(signal, device_id, **extra)


def presence_revoked(device, revoked_at: str | None) -> None:
    """The device was revoked (devices.services.device_revoke, on any process): what this process
    holds of it says so from now on, in the console events of its closing sockets too."""
    try:
        at = datetime.fromisoformat(revoked_at) if revoked_at else datetime.now(UTC)
    except ValueError:
        at = datetime.now(UTC)
    held = [device]
    local = _local.get(str(device.pk))
    if local is not None and local.device is not device:
        held.append(local.device)
    for each in held:
        each.revoked_at = each.revoked_at or at


async def presence_disconnected(device) -> None:
    device_id = str(device.pk)
    now = time.time()
    await _gate.enter()
    try:
        local = _local.get(device_id)
        if local is not None:
            local.sockets -= 1
        conn = await store().add_connection(device_id, -1, _encode({"last_seen": now}))
    except BaseException:
        _forget(device_id, local)  # the socket is gone whatever Redis said: never recounted
        raise
    finally:
        _gate.leave()
    fields: dict = {"last_seen": now}
    if local is not None and local.dirty:
        fields = {**_row(local.device), **fields}  # what the last frames said, not yet in the row
    if conn == 0:
        fields["online"] = False
    _write_through(device_id, fields)
    if conn == 0:
        await _signal(signals.device_disconnected, device_id)
    if local is None:
        return
    local.dirty = False
    local.conn = conn
    local.device.last_seen = _epoch_to_dt(now)
    if local.console_timer is not None:
        local.console_timer.cancel()
        local.console_timer = None
    if _console_due(local, force=True):
        _console(local)
    _forget(device_id, local)


def _forget(device_id: str, local: _Local | None) -> None:
    """Drops what this process knew of a device once it holds no socket of it (a socket that
    connected meanwhile keeps it)."""
    if local is not None and local.sockets <= 0 and _local.get(device_id) is local:
        del _local[device_id]
