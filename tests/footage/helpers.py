"""Device-side steps of the clip protocol for in-process tests (APIClient for rtcc, httpx for S3)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import httpx
from django.utils import timezone


def clip_bytes(size: int) -> bytes:
    return os.urandom(size)


def declaration(data: bytes, **overrides) -> dict:
    end = timezone.now() - timedelta(minutes=1)
    body = {
        "recording_id": overrides.pop("recording_id", f"rec-{os.urandom(4).hex()}"),
        "started_at": (end - timedelta(minutes=3)).isoformat(),
        "ended_at": end.isoformat(),
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": "video/mp4",
        "trigger": "manual",
    }
    body.update(overrides)
    return body


def put(api, part: dict, body: bytes):
    """PUTs a part where its URL says: rtcc's own (in process) or the S3 server (over HTTP)."""
    url = urlsplit(part["url"])
    if url.hostname == "testserver":
        extra = {
            f"HTTP_{k.upper().replace('-', '_')}": v for k, v in part["headers"].items() if k.lower() != "content-type"
        }
        return api.generic("PUT", url.path, body, content_type="application/octet-stream", **extra)
    return httpx.put(part["url"], content=body, headers=part["headers"], timeout=30)


def status_of(response) -> int:
    return getattr(response, "status_code", None)


def upload_parts(api, clip: dict, data: bytes, numbers: list[int]) -> None:
    response = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": numbers}, format="json")
    assert response.status_code == 200, response.content
    size = clip["part_size"]
    for part in response.json()["parts"]:
        n = part["number"]
        answer = put(api, part, data[(n - 1) * size : n * size])
        assert status_of(answer) == 200, getattr(answer, "content", b"")[:300]


@contextlib.contextmanager
def days_later(days: float) -> Iterator[None]:
    """rtcc's clock (django.utils.timezone.now) `days` ahead: what a sweep sees when it runs then.
    The store's clock stays where it is, so a part it took now is `days` old to the sweep, on S3
    (LastModified) as on disk (the part file's mtime)."""
    real = timezone.now
    with mock.patch.object(timezone, "now", lambda: real() + timedelta(days=days)):
        yield
