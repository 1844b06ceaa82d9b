"""Liveness and readiness: /healthz says the process answers, /readyz that its dependencies do.

/readyz answers within about two seconds whatever the load or the fault: each dependency gets
one cheap probe with a short timeout of its own (the database `SELECT 1`, Redis a PING on a
connection of its own rather than a round trip through the busy channel layer, the object store
a HEAD of the bucket). Its status code is about this web process: 503 when the database, the
channel layer or the object store cannot be reached. The background processes are reported
too (`worker`, `beat`: their heartbeats, see apps.core.heartbeat); their absence makes the status
`degraded` but not 503, as taking every web process out of service because a worker died would
only make the outage bigger.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from psycopg_pool import PoolTimeout

from apps.core import heartbeat
from apps.core.errors import error_response
from rtcc.postgresql.base import PoolRefused

from .storage import get_storage

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0
_probes = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def _get_only(view):
    """A probe answers GET and HEAD; another method is a 405 in the error envelope (a POST was
    CSRF's HTML 403 page, which said nothing useful to a monitor)."""

    @csrf_exempt
    @functools.wraps(view)
    def probe(request):
        if request.method not in ("GET", "HEAD"):
            response = error_response(405, "method_not_allowed", f"{request.method} is not allowed here; use GET.")
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)

    return probe


@_get_only
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database(conn=connection) -> str:
    pool = getattr(conn, "pool", None)
    if pool is not None and conn.connection is None:
        # A checkout waits up to the pool's timeout (10 s, for a busy pool) while PostgreSQL is
        # down; the probe waits PROBE_TIMEOUT at most, on the same pool (a connection it makes
        # is one the next request can use).
        pool.open()
        with pool.connection(timeout=PROBE_TIMEOUT) as pooled:
            pooled.execute("SELECT 1").fetchone()
        return "ok"
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _layer_redis_url() -> str | None:
    layer: dict = settings.CHANNEL_LAYERS.get("default", {})
    if "redis" not in str(layer.get("BACKEND", "")).lower():
        return None
    host = (layer.get("CONFIG", {}).get("hosts") or ["redis://127.0.0.1:6379"])[0]
    return str(host["address"] if isinstance(host, dict) else host)


def _check_channel_layer() -> str:
    url = _layer_redis_url()
    if url is None:
        return "ok"  # the in-memory layer of the embedded default lives in this process
    if not heartbeat.client(url).ping():
        raise RuntimeError("Redis did not answer PING")
    return "ok"


def _check_storage() -> str:
    get_storage().check()
    return "ok"


class Missing(Exception):
    """A background process without a recent heartbeat (reported as `error: <message>`)."""


def _check_role(role: str) -> str:
    found = heartbeat.status(role)
    if found["ok"]:
        return "ok"
    ago = found["last_seen_seconds_ago"]
    if ago is None:
        seen = "never seen"  # none has beaten on this Redis lately: not started, or another REDIS_URL
    elif found.get("stopped"):
        seen = f"stopped {ago:.0f} s ago"  # stopped cleanly: a deploy or a person, not a crash
    else:
        seen = f"last seen {ago:.0f} s ago"
    raise Missing(f"no {role} heartbeat ({seen})")


# Checks that decide readiness (this process cannot serve without them), then reported ones.
REQUIRED = {"database": _check_database, "channel_layer": _check_channel_layer, "object_storage": _check_storage}
REPORTED = {"worker": lambda: _check_role("worker"), "beat": lambda: _check_role("beat")}


def _where(name: str) -> str:
    """Where a check looked, for the log: host and port (or a path), never a password."""
    from urllib.parse import urlsplit

    try:
        if name == "database":
            db = connection.settings_dict  # the connection the probe used
            if not db.get("HOST"):
                return f"database {db.get('NAME')}"
            return f"PostgreSQL at {db['HOST']}:{db.get('PORT') or 5432}"
        if name == "channel_layer":
            parts = urlsplit(_layer_redis_url() or "")
            return f"Redis at {parts.hostname}:{parts.port or 6379}"
        if name == "object_storage":
            if settings.RTCC_S3_BUCKET:
                endpoint = urlsplit(settings.RTCC_S3_ENDPOINT or "").hostname or "AWS"
                return f"bucket {settings.RTCC_S3_BUCKET} at {endpoint}"
            return f"directory {settings.RTCC_STORAGE_DIR}"
    except (KeyError, ValueError):  # a port that is no number: the check itself said more
        pass
    return "its dependency"


def _describe(exc: BaseException, name: str = "") -> str:
    """What /readyz says of a failed check. It needs no login, so it names the kind of failure
    only: the error's own text (hosts, ports, the bucket's name) goes to the log, for a refused
    connection and a timeout too (the two an outage shows most; the answer alone does not say
    which host refused or hung)."""
    if isinstance(exc, Missing):  # readyz logs the missing processes in one line of its own
        return f"error: {exc}"
    if isinstance(exc, PoolRefused):
        log.warning("readyz: the %s check failed: %s refused the connection", name or "a", _where(name))
        return "error: connection refused"
    if isinstance(exc, concurrent.futures.TimeoutError | PoolTimeout):
        log.warning(
            "readyz: the %s check failed: no answer within %.0f s from %s (%s)",
            name or "a",
            PROBE_TIMEOUT,
            _where(name),
            "a hung server, or every pooled connection in use" if name == "database" else "a hung server?",
        )
        return f"error: no answer within {PROBE_TIMEOUT:.0f} s"
    log.warning("readyz: the %s check failed: %s: %s", name or "a", type(exc).__name__, exc)
    return f"error: {type(exc).__name__}"


@_get_only
def readyz(request):
    results: dict[str, str] = {}
    # The database probe runs here (connections belong to their thread); the others in parallel.
    others = {**REQUIRED, **REPORTED}
    others.pop("database")
    futures = {name: _probes.submit(check) for name, check in others.items()}
    try:
        results["database"] = _check_database()
    except Exception as exc:
        results["database"] = _describe(exc, "database")
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=PROBE_TIMEOUT)
        except Exception as exc:  # any failure means not ready; the message names it
            results[name] = _describe(exc, name)
    failing = [name for name in REQUIRED if results[name] != "ok"]
    missing = [name for name in REPORTED if results[name] != "ok"]
    checks = {name: results[name] for name in (*REQUIRED, *REPORTED)}
    if failing:
        return JsonResponse(
            {
                "status": "unavailable",
                "checks": checks,
                "error": {"code": "not_ready", "message": f"Not ready: {', '.join(failing)} unreachable."},
            },
            status=503,
        )
    if missing:
        log.warning("readyz: %s not running", ", ".join(missing))
        return JsonResponse({"status": "degraded", "checks": checks, "missing": missing})
    return JsonResponse({"status": "ok", "checks": checks})


class HealthProbeMiddleware:
    """Answers /healthz and /readyz before anything reads the Host header: an orchestrator's
    probe addresses the container by its own IP (or 127.0.0.1), which DJANGO_ALLOWED_HOSTS
    rightly does not list. Only these two read-only paths are exempt from the host check."""

    sync_capable = True
    async_capable = True  # any other path passes on the event loop; a probe's checks run in a thread

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.async_mode:
            return self._acall(request)  # type: ignore[return-value]
        probe = self._probe(request)
        return probe(request) if probe else self.get_response(request)

    @staticmethod
    def _probe(request: HttpRequest):
        if request.path_info in ("/healthz", "/readyz"):  # another method: their 405
            return healthz if request.path_info == "/healthz" else readyz
        return None

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        probe = self._probe(request)
        if probe:
            return await sync_to_async(probe, thread_sensitive=True)(request)
        return await self.get_response(request)
