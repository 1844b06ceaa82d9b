"""Liveness and readiness: /healthz says the process answers, /readyz that its dependencies do."""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from .storage import get_storage


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _layer_roundtrip() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("readyz.")
    token = uuid.uuid4().hex
    await asyncio.wait_for(layer.send(channel, {"type": "readyz.ping", "token": token}), timeout=3)
    message = await asyncio.wait_for(layer.receive(channel), timeout=3)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned a different message")


def _check_channel_layer() -> None:
    async_to_sync(_layer_roundtrip)()


def _check_storage() -> None:
    get_storage().check()


CHECKS = {"database": _check_database, "channel_layer": _check_channel_layer, "object_storage": _check_storage}


def readyz(request):
    results: dict[str, str] = {}
    failing = []
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; the message names it
            results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
            failing.append(name)
    if failing:
        return JsonResponse(
            {
                "status": "unavailable",
                "checks": results,
                "error": {"code": "not_ready", "message": f"Not ready: {', '.join(failing)} unreachable."},
            },
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": results})


class HealthProbeMiddleware:
    """Answers /healthz and /readyz before anything reads the Host header: an orchestrator's
    probe addresses the container by its own IP (or 127.0.0.1), which DJANGO_ALLOWED_HOSTS
    rightly does not list. Only these two read-only paths are exempt from the host check."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and request.path_info in ("/healthz", "/readyz"):
            return healthz(request) if request.path_info == "/healthz" else readyz(request)
        return self.get_response(request)
