"""Service endpoints: liveness, readiness naming a dead dependency, OpenAPI."""

import pytest

from tests.helpers import silent_server


@pytest.mark.django_db
def test_healthz_answers(anon):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_probe_answers_another_method_with_a_405_in_the_envelope(path, method):
    """A monitor misconfigured to POST got CSRF's HTML 403 page."""
    from django.test import Client

    response = getattr(Client(enforce_csrf_checks=True), method)(path)
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_readyz_ok_when_everything_answers(anon):
    response = anon.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    for name in ("database", "channel_layer", "object_storage"):
        assert body["checks"][name] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "object_storage", "worker", "beat"}


@pytest.mark.django_db
def test_readyz_names_dead_object_storage(anon, settings, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the storage directory should be")
    settings.RTCC_S3_BUCKET = None
    settings.RTCC_STORAGE_DIR = blocker / "objects"
    response = anon.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["object_storage"].startswith("error")
    assert body["checks"]["database"] == "ok"
    assert "object_storage" in body["error"]["message"]


@pytest.mark.django_db
def test_readyz_names_dead_redis_layer(anon, settings, redis_url):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = anon.get("/readyz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"].startswith("error")
    assert "channel_layer" in response.json()["error"]["message"]
    # no login is needed to read it: the failure's kind, not the host and port it could not reach
    assert "127.0.0.1" not in response.content.decode() and ":1" not in response.content.decode()


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/auth/token" in schema.json()["paths"]
    assert anon.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_no_operation_is_described_by_a_base_class_meant_for_developers(anon):
    """drf-spectacular describes an operation with the first docstring among its view's classes:
    the role mixin's told readers that clerks send commands (a 403)."""
    paths = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    described = {
        f"{method.upper()} {path}": operation.get("description", "")
        for path, operations in paths.items()
        for method, operation in operations.items()
        if isinstance(operation, dict)
    }
    assert "POST /api/v1/devices/{device_id}/commands" in described
    assert not [name for name, text in described.items() if "permissions_by_method" in text]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_whatever_host_the_orchestrator_uses(anon, settings, path):
    """Kubernetes and compose probe the container by its IP or 127.0.0.1, not the public name."""
    settings.ALLOWED_HOSTS = ["rtcc.example.org"]
    response = anon.get(path, HTTP_HOST="10.42.0.17:8000")
    # "degraded" only says no Celery worker/beat runs beside this test process (with REDIS_URL).
    assert response.status_code == 200 and response.json()["status"] in {"ok", "degraded"}
    # Everything else still insists on an allowed host.
    assert anon.get("/api/v1/me", HTTP_HOST="10.42.0.17:8000").status_code == 400


@pytest.mark.parametrize("down", ["refusing", "silent"])
def test_readyz_database_probe_gives_up_within_its_own_timeout_when_postgresql_is_down(postgres_db, down):
    """A pooled checkout could wait for the pool's timeout while PostgreSQL is down (10 s in
    rtcc's settings, 600 s here): the probe says at once that PostgreSQL refused the connection,
    and gives up after its own 2 s on a server that takes the connection and never answers."""
    import concurrent.futures
    import contextlib

    from django.db import connection

    from apps.integrations import health
    from infra.launch import free_port
    from rtcc.postgresql.base import DatabaseWrapper

    with contextlib.ExitStack() as stack:
        port = free_port() if down == "refusing" else stack.enter_context(silent_server())
        dead = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(port)}
        dead["OPTIONS"] = {**dead["OPTIONS"], "pool": {"min_size": 1, "max_size": 2, "timeout": 600}}
        wrapper = DatabaseWrapper(dead, alias="readyz-dead")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            error = pool.submit(health._check_database, wrapper).exception(timeout=60)  # the old probe: 600 s
    wrapper.close_pool()  # once the silent server let its connections go
    assert error is not None
    expected = "error: connection refused" if down == "refusing" else "error: no answer within 2 s"
    assert health._describe(error) == expected


@pytest.mark.parametrize(
    ("error", "answer", "logged"),
    [
        ("refused", "error: connection refused", "the database check failed: PostgreSQL at db.internal:5433 refused"),
        (
            "timeout",
            "error: no answer within 2 s",
            "the database check failed: no answer within 2 s from PostgreSQL at",
        ),
    ],
)
def test_readyz_logs_why_the_database_is_not_ready(monkeypatch, caplog, error, answer, logged):
    """The answer needs no login, so it names only the kind of failure; the log had nothing more
    for a refused connection or a timeout, the two an outage shows most."""
    import logging
    from types import SimpleNamespace

    from psycopg_pool import PoolTimeout

    from apps.integrations import health
    from rtcc.postgresql.base import PoolRefused

    dead = {"NAME": "rtcc", "HOST": "db.internal", "PORT": 5433, "PASSWORD": "s3cret-pw"}
    monkeypatch.setattr(health, "connection", SimpleNamespace(settings_dict=dead))
    exc = PoolRefused("couldn't get a connection") if error == "refused" else PoolTimeout("after 2.00 sec")
    with caplog.at_level(logging.WARNING, logger="apps.integrations.health"):
        assert health._describe(exc, "database") == answer
    [record] = caplog.records
    assert record.levelno == logging.WARNING and logged in record.getMessage(), record.getMessage()
    assert "s3cret-pw" not in caplog.text


@pytest.mark.django_db
def test_readyz_logs_which_check_hung_and_where(anon, settings, caplog, monkeypatch):
    """A dependency that takes the connection and never answers: 503 at once after the probe's
    2 s, and a line in the log naming the check and where it looked (no password)."""
    import logging
    import threading

    from apps.integrations import health

    released = threading.Event()
    monkeypatch.setitem(health.REQUIRED, "object_storage", lambda: released.wait(10) and "ok")
    settings.RTCC_S3_BUCKET = "evidence"
    settings.RTCC_S3_ENDPOINT = "http://rtcc:s3cret-pw@store.internal:8333"
    try:
        with caplog.at_level(logging.WARNING, logger="apps.integrations.health"):
            response = anon.get("/readyz")
    finally:
        released.set()
    assert response.status_code == 503
    assert response.json()["checks"]["object_storage"] == "error: no answer within 2 s"
    [line] = [r.getMessage() for r in caplog.records if "object_storage" in r.getMessage()]
    assert line == (
        "readyz: the object_storage check failed: no answer within 2 s from bucket evidence at store.internal"
        " (a hung server?)"
    )
    assert "s3cret-pw" not in caplog.text
