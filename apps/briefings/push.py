"""Push notifications: FCM through firebase-admin, or a local outbox (the embedded default).

The one module that talks to FCM. Callers build PushMessage objects and get one PushResult
per message back; the briefings feature fills in the FCM backend, batching and error rules.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone


@dataclass
class PushMessage:
    token: str
    data: dict[str, str]
    title: str | None = None
    body: str | None = None
    image: str | None = None
    priority: str = "normal"  # "normal" or "high"
    collapse_key: str | None = None


@dataclass
class PushResult:
    token: str
    ok: bool
    message_id: str | None = None
    error_code: str | None = None  # FCM's error code, e.g. UNREGISTERED
    retire_token: bool = False  # the token will never work again
    retry: bool = False  # worth trying again later
    retry_after: float | None = None
    detail: str = ""
    extra: dict = field(default_factory=dict)


class OutboxBackend:
    """Appends each message as one JSON line to <data dir>/outbox/outbox.jsonl."""

    _lock = threading.Lock()

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "outbox.jsonl"

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        results = []
        lines = []
        for message in messages:
            message_id = f"outbox/{uuid.uuid4()}"
            lines.append(json.dumps({"id": message_id, "at": timezone.now().isoformat(), **asdict(message)}))
            results.append(PushResult(token=message.token, ok=True, message_id=message_id))
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())
        return results

    def read(self, *, token: str | None = None, limit: int = 200) -> list[dict]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        if token is not None:
            rows = [row for row in rows if row["token"] == token]
        return rows[-limit:]


_backend = None
_backend_lock = threading.Lock()


def get_backend():
    global _backend
    with _backend_lock:
        if _backend is None:
            _backend = OutboxBackend(settings.RTCC_PUSH_OUTBOX_DIR)
        return _backend


def send_batch(messages: list[PushMessage]) -> list[PushResult]:
    return get_backend().send_batch(messages)
