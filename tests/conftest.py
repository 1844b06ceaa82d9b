"""Personas (one per role, plus an outsider) and the fixtures that reach real services."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from tests import services
from tests.helpers import LiveServer, api_client, committing_client, console_login

SERVICE_FIXTURES = {
    "postgres_db": "postgres",
    "redis_url": "redis",
    "s3": "s3",
    "fcm": "fcm",
    "worker": "redis",
    "live_server_pair": "redis",
}


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["tests.helpers.FastPBKDF2PasswordHasher"]
    # Pages name static files by their hash, as in production: the manifest must be built (once).
    from apps.core.staticfiles import ensure_static_files

    ensure_static_files()


def pytest_collection_modifyitems(config, items):
    # A test that uses a service fixture is a `services` test: the embedded run leaves it out.
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in SERVICE_FIXTURES):
            item.add_marker(pytest.mark.services)
    # A `once` test (the repository, the demo, the deployment files) does not depend on the
    # services: the run against them leaves it to the embedded run instead of repeating it.
    if os.environ.get("DATABASE_URL"):
        once = [item for item in items if item.get_closest_marker("once")]
        if once:
            config.hook.pytest_deselected(items=once)
            items[:] = [item for item in items if not item.get_closest_marker("once")]


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A channel layer instance per test. channels_redis binds an instance's receive locks and
    buffers to the event loop that receives first, and every async_to_sync of a test runs its
    own loop: a layer shared across tests let one test's receive state reach the next."""
    from channels import DEFAULT_CHANNEL_LAYER
    from channels.layers import channel_layers

    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    yield
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


@pytest.fixture(autouse=True)
def _no_work_left_behind():
    """The event-loop statements (apps/core/aiodb.py) pool connections per loop; a test's loops end
    with it, and their connections must not outlive it (the test database could not be dropped)."""
    yield
    from apps.audit import sealer
    from apps.core import aiodb
    from apps.integrations import storage

    aiodb.discard_closed_loops()
    storage.discard_closed_loops()
    # Events stored unchained (the event-loop statements) are chained by a thread 50 ms later:
    # done before the test's database is emptied, which that thread's locks could deadlock.
    sealer.wait_idle()


@pytest.fixture(autouse=True, scope="session")
def _tasks_in_process():
    """Tests run Celery tasks in process (eagerly, after commit) unless a test starts a worker."""
    from rtcc.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def broker_down():
    """Celery's broker unreachable (a Redis port where nothing listens: a real connection refused),
    tasks no longer run in process: queueing one fails as it does while Redis is down. Gives the
    function that brings it back."""
    from rtcc.celery import app

    saved = app.conf.task_always_eager, app.conf.broker_url

    def back() -> None:
        app.conf.task_always_eager, app.conf.broker_url = saved
        app._pool, app.amqp._producer_pool = None, None

    app.conf.task_always_eager, app.conf.broker_url = False, "redis://127.0.0.1:1/0"
    app._pool, app.amqp._producer_pool = None, None  # the next publish connects anew
    try:
        yield back  # the test calls it when the broker is back
    finally:
        back()


@pytest.fixture
def make_user(db):
    from apps.accounts.models import User

    counter = iter(range(1, 1_000_000))

    def make(role: str = "officer", **fields) -> User:
        n = next(counter)
        username = fields.pop("username", f"{role}{n}")
        user = User(username=username, role=role, full_name=fields.pop("full_name", f"{role.title()} {n}"), **fields)
        user.set_password("correct-horse-battery")
        user.save()
        return user

    return make


@pytest.fixture
def officer(make_user):
    return make_user("officer", username="officer", badge_number="4711")


@pytest.fixture
def other_officer(make_user):
    return make_user("officer", username="officer2", badge_number="4712")


@pytest.fixture
def operator(make_user):
    return make_user("operator", username="operator")


@pytest.fixture
def clerk(make_user):
    return make_user("clerk", username="clerk")


@pytest.fixture
def it_user(make_user):
    return make_user("it", username="itadmin")


@pytest.fixture
def superuser(make_user):
    return make_user("officer", username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def personas(officer, operator, clerk, it_user):
    """{role: user} for the four roles; parametrize over ROLES and index this."""
    return {"officer": officer, "operator": operator, "clerk": clerk, "it": it_user}


ROLES = ["officer", "operator", "clerk", "it"]


@pytest.fixture
def commit_per_request() -> bool:
    """True (overridden in a folder's conftest) where the views act after commit (console events,
    pushes): the clients of client_for and anon then run those effects at the end of each request."""
    return False


@pytest.fixture
def client_for(commit_per_request):
    """client_for(user) -> APIClient with a real bearer token; client_for(None) -> anonymous."""
    return committing_client if commit_per_request else api_client


@pytest.fixture
def admin_client(db, admin_user):
    """pytest-django's admin client, signed in through the login policy (as rtcc requires)."""
    from django.test import Client

    client = Client()
    console_login(client, admin_user)
    return client


@pytest.fixture
def anon(client_for):
    return client_for()


# Real services -----------------------------------------------------------------------------


@pytest.fixture
def postgres_db(db):
    services.require("postgres")


@pytest.fixture(scope="session")
def redis_url():
    import os

    services.require("redis")
    return os.environ["REDIS_URL"]


@pytest.fixture
def s3(db):
    """The S3 storage backend, against the real S3 server (SeaweedFS in CI)."""
    services.require("s3")
    from apps.integrations.storage import get_storage

    storage = get_storage()
    storage.ensure_bucket()
    return storage


@pytest.fixture(params=["disk", pytest.param("s3", marks=pytest.mark.services)])
def either_store(request, settings, tmp_path):
    """Each test that takes it runs on the disk store (a folder of its own) and on S3 (SeaweedFS,
    a services run only): the store rtcc now uses."""
    if request.param == "s3":
        return request.getfixturevalue("s3")
    from apps.integrations.storage import get_storage

    settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR = None, tmp_path / "objects"
    return get_storage()


@pytest.fixture
def lock_store(s3, settings):
    """An S3 bucket with Object Lock enabled (SeaweedFS supports it), next to the run's bucket: a
    versioned bucket, where a plain delete only hides an object's bytes behind a delete marker."""
    from botocore.exceptions import ClientError

    from apps.integrations.storage import get_storage

    bucket = os.environ["RTCC_S3_BUCKET"] + "-lock"
    # Made before rtcc sees the name: rtcc would create a missing bucket, without Object Lock.
    client = s3.client
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    settings.RTCC_S3_BUCKET = bucket
    storage = get_storage()
    storage._object_lock = None
    assert storage.object_lock_enabled()
    return storage


@pytest.fixture
def fcm():
    """The FCM fake's base URL, reset before the test (its messages are read over HTTP)."""
    import os

    import httpx

    services.require("fcm")
    base = os.environ["RTCC_FCM_ENDPOINT"].rstrip("/")
    httpx.post(f"{base}/_reset", timeout=5).raise_for_status()
    return base


@pytest.fixture
def live_server_pair(transactional_db, redis_url):
    """Two daphne processes sharing the Redis channel layer and the test database."""
    servers = [LiveServer(), LiveServer()]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def live_server_process(transactional_db):
    """One daphne process against the test database (embedded or with services)."""
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def refusing_s3():
    """An S3 endpoint that refuses every request at once (403 AccessDenied, as a store whose
    credentials were revoked answers): the store's own failure, faked at its wire."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refusing(BaseHTTPRequestHandler):
        def refuse(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = refuse  # noqa: N815 (http.server's names)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def store_fails(settings, request, tmp_path):
    """`store_fails(s3=...)`: from then on every write and read of the object store fails. S3
    refuses (a client made for a bucket name not used before goes to `refusing_s3`); the disk
    store's directory is a file."""

    def fail(*, s3: bool = False) -> None:
        if s3:
            request.getfixturevalue("monkeypatch").setenv("AWS_ENDPOINT_URL_S3", request.getfixturevalue("refusing_s3"))
            settings.RTCC_S3_BUCKET = "rtcc-refused-" + uuid.uuid4().hex[:12]
        else:
            settings.RTCC_S3_BUCKET = None
            blocked = tmp_path / "blocked"
            blocked.write_bytes(b"")
            settings.RTCC_STORAGE_DIR = blocked

    return fail


@pytest.fixture
def exact_since_two_days_ago(db):
    """The exact rows began two days ago (as after an upgrade two days back), whatever the test
    database's migration time; the per-process cache of that instant is cleared before and after."""
    from datetime import UTC, datetime, timedelta

    from apps.counters import selectors
    from apps.counters.models import EXACT_SINCE, Count

    began = datetime.now(UTC) - timedelta(days=2)
    Count.objects.filter(level="e", name=EXACT_SINCE).delete()
    Count.objects.create(level="e", start=began, name=EXACT_SINCE, n=0)
    selectors._since.clear()
    yield began
    selectors._since.clear()
