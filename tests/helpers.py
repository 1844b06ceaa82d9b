"""Small helpers shared by tests: API clients per persona, websocket clients, live servers."""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from rest_framework.test import APIClient

from infra import launch

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def committed():
    """Runs the on-commit callbacks (pushes, console events) registered inside, as a commit would.

    The tests stay in pytest-django's rolled-back transaction (fast) instead of flushing the
    database after each test, yet see every after-commit effect of each request."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        yield


@contextmanager
def transaction_held_open(work: Callable[[], object]):
    """Runs `work` in a transaction on another thread and keeps that transaction open (holding the
    rows it locked) while the block runs; it commits when the block ends."""
    from django.db import connections, transaction

    done, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                work()
                done.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert done.wait(30), "the holding transaction did not get going"
        yield
    finally:
        release.set()
        thread.join(30)


class CommittingClient(APIClient):
    """An APIClient whose every request runs its after-commit effects before it returns."""

    def request(self, **kwargs):
        with committed():
            return super().request(**kwargs)


def api_client(user=None, *, token: str | None = None, commit_per_request: bool = False) -> APIClient:
    """An APIClient with a real bearer token for this person (or this raw token)."""
    client = CommittingClient() if commit_per_request else APIClient()
    if user is not None:
        from apps.accounts.services import token_issue

        token, _ = token_issue(user=user)
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


committing_client = functools.partial(api_client, commit_per_request=True)


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["code"]


free_port = launch.free_port


def database_url_for_subprocess() -> str:
    """The URL of the database the tests are using right now (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db.get("USER") or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class LiveServer:
    """One `daphne rtcc.asgi:application` process on a free port, against the test database."""

    def __init__(self, *, env: dict | None = None, daphne_args: tuple[str, ...] = ()) -> None:
        process_env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "RTCC_EMBEDDED_BEAT": "false"}
        process_env.setdefault("DJANGO_SECRET_KEY", settings.SECRET_KEY)
        process_env.update(env or {})
        port = free_port()
        self.log_path = Path(settings.DATA_DIR) / f"daphne-{port}.log"
        self.server = launch.start_daphne(env=process_env, log=self.log_path, port=port, timeout=30, args=daphne_args)
        self.process = self.server.process
        self.port = port
        self.url = self.server.url
        self.ws_url = self.server.ws_url

    def stop(self) -> None:
        self.server.stop(timeout=10)


def start_worker(*, log: Path, env: dict | None = None, **options) -> launch.Process:
    """A Celery worker against the test database (threads, as the console tests use it)."""
    worker_env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "DJANGO_SECRET_KEY": settings.SECRET_KEY}
    worker_env.update(env or {})
    return launch.start_celery_worker(env=worker_env, log=log, **options)


@contextmanager
def ws_connect(url: str, *, token: str | None = None, headers: dict | None = None, timeout: float = 30):
    """A synchronous websocket client (the `websockets` library), as firmware would connect."""
    from websockets.sync.client import connect

    extra = dict(headers or {})
    if token:
        extra["Authorization"] = f"Bearer {token}"
    with connect(url, additional_headers=extra, open_timeout=timeout, close_timeout=2) as ws:
        yield ws


def wait_for(fetch, check, timeout: float = 30):
    """Polls until check(fetch()) holds (what is awaited travels asynchronously) and returns the
    last value: the caller asserts on it, so a slow machine waits longer and a wrong value fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def ws_receive_json(ws, timeout: float = 30) -> dict:
    return json.loads(ws.recv(timeout=timeout))


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Tests only: the same pbkdf2_sha256 format with few iterations. A daphne subprocess with
    production settings still verifies these hashes (the count is stored in each hash)."""

    iterations = 1000


def fcm_messages(token: str) -> list[dict]:
    """The FCM HTTP v1 `message` objects a phone with this token got: from the FCM fake (over
    HTTP) when the run has it, else from the local outbox, encoded as FCM would have sent them."""
    import httpx

    if settings.RTCC_FCM_CREDENTIALS:
        rows = httpx.get(f"{settings.RTCC_FCM_ENDPOINT}/_messages", params={"token": token}, timeout=30).json()
        return [row["message"] for row in rows]
    from apps.integrations.push import FcmBackend, OutboxBackend, PushMessage, get_backend

    outbox = get_backend()
    assert isinstance(outbox, OutboxBackend), outbox
    fields = ("token", "data", "title", "body", "image", "priority", "collapse_key")
    return [FcmBackend.encode(PushMessage(**{k: row[k] for k in fields})) for row in outbox.read(token=token)]


def pushed(token: str) -> list[dict]:
    """What a phone with this token was shown: [{"data", "title", "body", "priority"}]."""
    out = []
    for message in fcm_messages(token):
        android = message.get("android") or {}
        notification = message.get("notification") or android.get("notification") or {}
        out.append(
            {
                "data": message.get("data") or {},
                "title": notification.get("title"),
                "body": notification.get("body"),
                "priority": str(android.get("priority", "")).lower(),
            }
        )
    return out


def console_login(client, user) -> None:
    """A Django test client signed in as if through the console login (the login policy)."""
    from apps.accounts.sessions import POLICY_KEY, SEEN_KEY

    client.force_login(user)
    session = client.session
    session[POLICY_KEY] = True
    session[SEEN_KEY] = int(time.time())
    session.save()


class ViewStandIn:
    """The app behind an ASGI fast path (Django, in rtcc.asgi): records what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"view"})


def on_a_loop(*calls):
    """Runs async calls one after another on one event loop of their own, as a fast path runs on
    daphne's, and returns their results. What they left to run after is awaited on that loop, and
    its database and store connections closed before it ends: a loop that ends with work pending
    or a pool open cancels them at its close, and one such close hung a CI run.

    Each call is (coroutine function, *args)."""
    from asgiref.sync import async_to_sync

    from apps.core import aiodb
    from apps.core.fastpaths import background_settled
    from apps.integrations.storage import close_loop_http

    async def scenario():
        try:
            answers = [await function(*args) for function, *args in calls]
            await background_settled()
            return answers
        finally:
            await aiodb.close_all()
            await close_loop_http()

    return async_to_sync(scenario)()


async def asgi_request(app, method: str, path: str, *, body: bytes = b"", headers=(), query: bytes = b""):
    """One HTTP request to an ASGI app, as daphne would hand it over: (status, headers, body). The
    app's own database and store connections on the loop are closed after it."""
    from apps.core import aiodb
    from apps.integrations.storage import close_loop_http

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "client": ("10.1.2.3", 5555),
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode()), *headers],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    try:
        await app(scope, receive, send)
    finally:
        await aiodb.close_all()
        await close_loop_http()
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


@functools.cache
def service_account_stand_in() -> str:
    """What GOOGLE_APPLICATION_CREDENTIALS must name for rtcc to start (rtcc/env.py): a
    service-account key that loads (a fresh RSA key, made once per test process); a test that
    never pushes needs no account Google knows."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "rtcc-stand-in",
            "client_email": "rtcc@example.iam.gserviceaccount.com",
            "private_key": pem,
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def second_behind_first(first, second, *, waiting: float = 0.5):
    """A race made certain: `first()` runs in a transaction that stays open until `second()`
    (another thread, another connection) has been waiting on it for `waiting` seconds; then the
    first commits and the second goes on. Returns what `second()` returned (an HTTP answer)."""
    import threading
    import time

    from django.db import connection, transaction

    made, go, answers = threading.Event(), threading.Event(), []

    def first_thread():
        try:
            with transaction.atomic():  # holds its locks until told to commit
                first()
                made.set()
                assert go.wait(20)
        finally:
            made.set()
            connection.close()

    def second_thread():
        try:
            answers.append(second())
        finally:
            connection.close()

    threads = [threading.Thread(target=first_thread), threading.Thread(target=second_thread)]
    threads[0].start()
    assert made.wait(20)
    threads[1].start()
    time.sleep(waiting)  # the second is now waiting on the first's lock
    go.set()
    for thread in threads:
        thread.join(20)
    assert answers, "the second never answered"
    return answers[0]


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Runs the calls in threads of their own (each on its own database connection), released
    together: what each returned, or the exception it raised, in the calls' order."""
    from django.db import connection

    start = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            start.wait()
            outcomes[index] = call()
        except Exception as exc:  # the caller's to judge
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@contextmanager
def silent_server():
    """A server at the wire that takes every connection and never says a word (a hung or frozen
    Redis or store): yields its port; the connections close when the block ends."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    held: list[socket.socket] = []

    def accept_and_say_nothing():
        while True:
            try:
                held.append(silent.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    try:
        yield silent.getsockname()[1]
    finally:
        silent.close()
        for conn in held:
            conn.close()
