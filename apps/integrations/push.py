"""Push notifications: FCM through firebase-admin, or a local outbox (the embedded default).

The one module that talks to FCM. Callers build PushMessage objects and get one PushResult
per message back (same order), from `send_batch([PushMessage])`. The backend is chosen from
settings: GOOGLE_APPLICATION_CREDENTIALS set -> FcmBackend (RTCC_FCM_ENDPOINT as its base
URL), else OutboxBackend. Error rules (which tokens to retire, what to retry) live here.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import os
import threading
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from . import conf

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

# Phones register FCM registration tokens (the contract's `push_token`), which the HTTP v1 API
# takes as `message.token`. firebase-admin 7.7 deprecates that argument in favour of `fid`, a
# Firebase installation ID: another identifier, which the phone apps do not send.
warnings.filterwarnings("ignore", message=r"Message\.token is deprecated", category=DeprecationWarning)

MAX_BATCH = 500  # FCM's send_each limit


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
    unanswered: str | None = None  # no HTTP answer came: the kind of error (ClientConnectorError, TimeoutError)


class PushBackend(Protocol):
    """What rtcc asks of a push service: one PushResult per message, in order. FcmBackend and
    OutboxBackend implement it; `get_backend()` picks one from settings (RTCC_FCM_CREDENTIALS
    set -> FCM, else the outbox under RTCC_PUSH_OUTBOX_DIR)."""

    name: str

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]: ...


class OutboxBackend:
    """Appends each message as one JSON line to <data dir>/outbox/outbox.jsonl."""

    name = "outbox"
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


# FCM -----------------------------------------------------------------------------------------

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# A token that will never work again. INVALID_ARGUMENT only counts with an FcmError detail
# (a malformed token); the same status with only a BadRequest detail is a payload error.
RETIRE_CODES = {"UNREGISTERED", "SENDER_ID_MISMATCH", "INVALID_ARGUMENT"}
# FCM or the network had a bad moment: send again later.
RETRY_CODES = {
    "UNAVAILABLE",
    "INTERNAL",
    "QUOTA_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "DEADLINE_EXCEEDED",
    "UNKNOWN",
    "UNAUTHENTICATED",
}


def point_at_endpoint(app, endpoint: str, *, pool_size: int = MAX_BATCH) -> None:
    """Points firebase-admin's messaging client for `app` at another FCM base URL.

    firebase-admin has no option for this; its _MessagingService keeps the send URL in
    `_fcm_url` and its requests session in `_client.session`. This is the only place that
    touches those private attributes (tests/briefings/test_push.py checks it still works).
    The adapter mounted for the endpoint keeps a connection per concurrent send and leaves
    retries to the delivery rules (firebase-admin's own adapter retries 503 four times).
    """
    import requests
    from firebase_admin import messaging

    service = messaging._get_messaging_service(app)
    base = endpoint.rstrip("/")
    service._fcm_url = f"{base}/v1/projects/{service._project_id}/messages:send"
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    service._client.session.mount(base + "/", adapter)


def classify(
    token: str, *, status: int | None, body: bytes | str | None, headers=None, code: str | None = None, detail: str = ""
) -> PushResult:
    """The delivery rules for one failed send, from FCM's HTTP answer (or a transport error's code)."""
    fcm_code = None
    if body:
        try:
            error = json.loads(body).get("error", {})
        except (ValueError, AttributeError):
            error = {}
        if isinstance(error, dict):
            code = code or error.get("status")
            detail = detail or str(error.get("message", ""))
            details = error.get("details")
            for item in details if isinstance(details, list) else []:
                if isinstance(item, dict) and item.get("@type") == FCM_ERROR_TYPE:
                    fcm_code = item.get("errorCode")
    if not code:
        code = {
            400: "INVALID_ARGUMENT",
            401: "UNAUTHENTICATED",
            403: "PERMISSION_DENIED",
            404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL",
            503: "UNAVAILABLE",
        }.get(status or 0, "UNKNOWN")
    retry_after = _retry_after(headers.get("Retry-After") if headers is not None else None)
    retire = fcm_code in RETIRE_CODES
    retry = not retire and (fcm_code in RETRY_CODES or code in RETRY_CODES or (status or 0) >= 500)
    return PushResult(
        token=token,
        ok=False,
        error_code=fcm_code or code,
        retire_token=retire,
        retry=retry,
        retry_after=retry_after,
        detail=detail[:300],
    )


def _retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(raw) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


def classify_exception(token: str, exc) -> PushResult:
    """classify() for a firebase-admin FirebaseError (the send_each transport)."""
    response = getattr(exc, "http_response", None)
    if response is None:  # no answer at all: connection refused, timeout
        result = classify(
            token, status=None, body=None, code=str(getattr(exc, "code", "") or "UNAVAILABLE"), detail=str(exc)
        )
        result.unanswered = type(getattr(exc, "cause", None) or exc).__name__
        return result
    return classify(
        token, status=response.status_code, body=response.content, headers=response.headers, detail=str(exc)
    )


class _LoopThread:
    """One asyncio loop in a daemon thread per process, so sync callers (Celery tasks) can
    use a long-lived aiohttp session with kept-alive connections."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="rtcc-push-loop", daemon=True)
        self.thread.start()
        self.on_close: list = []  # coroutine functions run before the loop stops
        atexit.register(self.close)

    def close(self) -> None:
        import asyncio

        if not self.loop.is_running():
            return
        for closer in self.on_close:
            try:
                asyncio.run_coroutine_threadsafe(closer(), self.loop).result(5)
            except Exception:  # noqa: S110 - shutting down; nothing left to tell
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)

    def run(self, coro, timeout: float):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class FcmBackend:
    """FCM HTTP v1 with a service account; messages built and encoded by firebase-admin.

    Two transports: "aiohttp" (default: one event loop, `pool_size` concurrent requests over
    kept-alive connections) and "firebase-admin" (messaging.send_each, a thread per message).
    Both send at most 500 messages a call and apply the same error rules (classify()).
    """

    name = "fcm"

    def __init__(
        self,
        credentials_path: str,
        endpoint: str | None,
        *,
        pool_size: int = MAX_BATCH,
        timeout: float = 10.0,
        transport: str = "aiohttp",
    ) -> None:
        import firebase_admin
        from firebase_admin import credentials

        if transport not in ("aiohttp", "firebase-admin"):
            raise ValueError(f"unknown push transport {transport!r}")
        if transport == "aiohttp":
            try:
                import aiohttp  # noqa: F401
            except ImportError:  # an install without it still sends, through firebase-admin's own client
                log.warning("aiohttp is not installed: pushes go through firebase-admin's send_each")
                transport = "firebase-admin"
        self.endpoint = (endpoint or "https://fcm.googleapis.com").rstrip("/")
        self.pool_size = max(1, pool_size)
        self.timeout = timeout
        self.transport = transport
        self.app = firebase_admin.initialize_app(
            credentials.Certificate(credentials_path), {"httpTimeout": timeout}, name=f"rtcc-push-{uuid.uuid4()}"
        )
        self.url = f"{self.endpoint}/v1/projects/{self.app.project_id}/messages:send"
        if self.endpoint != "https://fcm.googleapis.com":
            point_at_endpoint(self.app, self.endpoint, pool_size=self.pool_size)
        self._credential = self.app.credential.get_credential()
        self._token_lock = threading.Lock()
        self._loop: _LoopThread | None = None
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def to_fcm(message: PushMessage):
        """The firebase-admin Message for one PushMessage."""
        from firebase_admin import messaging

        high = message.priority == "high"
        notification = None
        if message.title or message.body:
            notification = messaging.Notification(title=message.title, body=message.body, image=message.image)
        # Apple: an alert may go at priority 10; a data-only (background) push must be 5.
        apns_headers = {"apns-priority": "10" if high and notification else "5"}
        if message.collapse_key:
            apns_headers["apns-collapse-id"] = message.collapse_key[:64]
        if notification:
            aps = messaging.Aps(
                mutable_content=bool(message.image),  # lets the app's extension fetch the image
                sound="default" if high else None,
            )
        else:
            aps = messaging.Aps(content_available=True)
        return messaging.Message(
            token=message.token,
            data=message.data,
            notification=notification,
            android=messaging.AndroidConfig(priority="high" if high else "normal", collapse_key=message.collapse_key),
            apns=messaging.APNSConfig(headers=apns_headers, payload=messaging.APNSPayload(aps=aps)),
        )

    @classmethod
    def encode(cls, message: PushMessage) -> dict:
        """The HTTP v1 JSON `message` object, as firebase-admin encodes it."""
        from firebase_admin import messaging

        return messaging._MessagingService.encode_message(cls.to_fcm(message))

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        results: list[PushResult] = []
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
            try:
                sent = self._send_aiohttp(chunk) if self.transport == "aiohttp" else self._send_each(chunk)
                self._warn_unanswered(sent)
                results.extend(sent)
            except Exception as exc:  # the token exchange or the transport failed: the whole chunk waits
                log.warning("FCM send failed for %d messages: %r", len(chunk), exc)
                results.extend(
                    PushResult(token=m.token, ok=False, error_code="UNAVAILABLE", retry=True, detail=str(exc)[:300])
                    for m in chunk
                )
        return results

    def _warn_unanswered(self, results: list[PushResult]) -> None:
        """One line per batch in which some sends got no answer (refused, reset, timed out): each
        is retried by the delivery rules, but an FCM outage or a firewall would otherwise show
        only as briefings that stay queued. Counts and the first error's kind, never a token."""
        unanswered = [r.unanswered for r in results if r.unanswered]
        if unanswered:
            log.warning(
                "FCM gave no answer to %d of %d messages (first: %s; the delivery rules try them again):"
                " is %s reachable from this process?",
                len(unanswered),
                len(results),
                unanswered[0],
                urlsplit(self.endpoint).hostname,
            )

    # firebase-admin's own transport

    def _send_each(self, chunk: list[PushMessage]) -> list[PushResult]:
        from firebase_admin import messaging

        response = messaging.send_each([self.to_fcm(m) for m in chunk], app=self.app)
        return [
            PushResult(token=m.token, ok=True, message_id=r.message_id)
            if r.success
            else classify_exception(m.token, r.exception)
            for m, r in zip(chunk, response.responses, strict=True)
        ]

    # aiohttp transport

    def _access_token(self) -> str:
        with self._token_lock:
            if not self._credential.valid:
                import google.auth.transport.requests

                self._credential.refresh(google.auth.transport.requests.Request())
            return self._credential.token

    def _bodies(self, chunk: list[PushMessage]) -> list[bytes]:
        """Each message's request body. A briefing's messages differ only in the token, so the
        message is encoded once (by firebase-admin) and the token spliced into its JSON."""
        templates: dict = {}
        bodies = []
        for message in chunk:
            key = (
                tuple(sorted(message.data.items())),
                message.title,
                message.body,
                message.image,
                message.priority,
                message.collapse_key,
            )
            template = templates.get(key)
            if template is None:
                marker = f"rtcc-token-{uuid.uuid4().hex}"
                encoded = json.dumps(
                    {"message": self.encode(dataclasses.replace(message, token=marker))}, separators=(",", ":")
                )
                prefix, _, suffix = encoded.partition(json.dumps(marker))
                template = templates[key] = (prefix.encode(), suffix.encode())
            bodies.append(template[0] + json.dumps(message.token).encode() + template[1])
        return bodies

    def _send_aiohttp(self, chunk: list[PushMessage]) -> list[PushResult]:
        import firebase_admin

        headers = {
            "Authorization": f"Bearer {self._access_token()}",
            "Content-Type": "application/json; charset=UTF-8",
            "X-GOOG-API-FORMAT-VERSION": "2",
            "X-FIREBASE-CLIENT": f"fire-admin-python/{firebase_admin.__version__}",
        }
        bodies = self._bodies(chunk)
        with self._token_lock:  # several worker threads may share this backend
            if self._loop is None:
                self._loop = _LoopThread()
        results = self._loop.run(self._post_all(chunk, bodies, headers), timeout=self.timeout * 3 + 30)
        if any(r.error_code == "UNAUTHENTICATED" for r in results):
            with self._token_lock:  # our access token was refused: fetch a new one next time
                self._credential.token = None
        return results

    async def _post_all(self, chunk: list[PushMessage], bodies: list[bytes], headers: dict) -> list[PushResult]:
        import asyncio

        import aiohttp

        session = self._session
        if session is None:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=self.pool_size),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
            if self._loop is not None:  # the loop this runs on: it closes the session when it stops
                self._loop.on_close.append(session.close)
        semaphore = asyncio.Semaphore(self.pool_size)

        async def post(message: PushMessage, body: bytes) -> PushResult:
            async with semaphore:
                try:
                    async with session.post(self.url, data=body, headers=headers) as response:
                        content = await response.read()
                        if response.status == 200:
                            return PushResult(token=message.token, ok=True, message_id=json.loads(content)["name"])
                        return classify(message.token, status=response.status, body=content, headers=response.headers)
                except (TimeoutError, aiohttp.ClientError) as exc:  # no answer (or one broken off)
                    code = "DEADLINE_EXCEEDED" if isinstance(exc, TimeoutError) else "UNAVAILABLE"
                    result = classify(message.token, status=None, body=None, code=code, detail=repr(exc))
                    result.unanswered = type(exc).__name__
                    return result
                except (ValueError, KeyError) as exc:  # a 200 that is not FCM's answer
                    return classify(message.token, status=None, body=None, code="UNAVAILABLE", detail=repr(exc))

        return list(await asyncio.gather(*(post(m, b) for m, b in zip(chunk, bodies, strict=True))))


_backend: PushBackend | None = None
_backend_key: tuple | None = None
_backend_lock = threading.Lock()


def get_backend() -> PushBackend:
    """The backend the settings ask for (rebuilt if those settings change, as in tests)."""
    global _backend, _backend_key
    key = (
        os.getpid(),
        settings.RTCC_FCM_CREDENTIALS,
        settings.RTCC_FCM_ENDPOINT,
        str(settings.RTCC_PUSH_OUTBOX_DIR),
        conf.push_transport(),
    )
    with _backend_lock:
        if _backend is None or _backend_key != key:
            if settings.RTCC_FCM_CREDENTIALS:
                _backend = FcmBackend(
                    settings.RTCC_FCM_CREDENTIALS,
                    settings.RTCC_FCM_ENDPOINT,
                    pool_size=conf.push_pool_size(),
                    timeout=conf.push_timeout(),
                    transport=conf.push_transport(),
                )
            else:
                _backend = OutboxBackend(settings.RTCC_PUSH_OUTBOX_DIR)
            _backend_key = key
        return _backend


def send_batch(messages: list[PushMessage]) -> list[PushResult]:
    return get_backend().send_batch(messages)
