"""Small objects (live segments, photos, plate images) go to the store as one PUT to a presigned
URL over the thread's kept-alive connection: the bytes arrive with their Content-MD5, a connection
the store closed while idle is opened again, a 5xx is sent again, anything else is an error."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.integrations.storage import S3Storage, StorageUnavailableError, unavailable_on_failure


class ScriptedStore:
    """An S3 endpoint at the wire that answers PUTs as scripted: (status, close the connection
    afterwards without saying so), and records what it was sent."""

    def __init__(self, script: list[tuple[int, bool]]) -> None:
        self.script = script
        self.puts: list[tuple[str, dict, bytes]] = []
        self.connections: set[tuple[str, int]] = set()
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                store.puts.append((self.path, dict(self.headers), body))
                store.connections.add(self.client_address)
                status, close = store.script.pop(0) if store.script else (200, False)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.close_connection = close

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def scripted(monkeypatch):
    stores: list[ScriptedStore] = []

    def make(script: list[tuple[int, bool]]) -> tuple[ScriptedStore, S3Storage]:
        store = ScriptedStore(script)
        stores.append(store)
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", store.url)
        for name, value in {"AWS_ACCESS_KEY_ID": "scripted", "AWS_SECRET_ACCESS_KEY": "scripted-secret"}.items():
            monkeypatch.setenv(name, os.environ.get(name, value))  # the run's own when it has one
        monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        return store, S3Storage("rtcc-scripted")

    yield make
    for store in stores:
        store.server.shutdown()


def test_the_bytes_arrive_with_their_md5_on_one_kept_alive_connection(scripted):
    store, storage = scripted([])
    first, second = os.urandom(250_000), os.urandom(1000)
    storage.put("live/a/0.m4s", io.BytesIO(first), content_type="video/iso.segment")
    storage.put("live/a/1.m4s", io.BytesIO(second), content_type="video/iso.segment")
    assert [(p.split("?")[0], body) for p, _, body in store.puts] == [
        ("/rtcc-scripted/live/a/0.m4s", first),
        ("/rtcc-scripted/live/a/1.m4s", second),
    ]
    for _, headers, body in store.puts:
        assert headers["Content-MD5"] == base64.b64encode(hashlib.md5(body).digest()).decode()
        assert headers["Content-Type"] == "video/iso.segment"
    assert len(store.connections) == 1  # kept alive


def test_a_connection_the_store_closed_while_idle_is_opened_again(scripted):
    store, storage = scripted([(200, True), (200, False)])  # the first answer closes it unsaid
    storage.put("a", io.BytesIO(b"one"))
    storage.put("b", io.BytesIO(b"two"))
    assert [body for _, _, body in store.puts] == [b"one", b"two"]
    assert len(store.connections) == 2


def test_a_5xx_is_sent_again_and_a_4xx_is_a_503_for_the_caller(scripted):
    store, storage = scripted([(503, False), (500, True), (200, False)])
    storage.put("a", io.BytesIO(b"bytes"))
    assert [body for _, _, body in store.puts] == [b"bytes"] * 3
    store.script[:] = [(403, False)]
    with pytest.raises(StorageUnavailableError), unavailable_on_failure(retry_after=1):
        storage.put("b", io.BytesIO(b"refused"))
    store.script[:] = [(503, False)] * 4  # every pause spent: given up
    with pytest.raises(StorageUnavailableError), unavailable_on_failure(retry_after=1):
        storage.put("c", io.BytesIO(b"later"))


def test_a_store_that_is_not_listening_is_a_503_for_the_caller(scripted):
    store, storage = scripted([])
    store.server.shutdown()
    store.server.server_close()
    with pytest.raises(ConnectionRefusedError):
        storage.put("a", io.BytesIO(b"nobody"))
    with pytest.raises(StorageUnavailableError), unavailable_on_failure(retry_after=1):
        storage.put("a", io.BytesIO(b"nobody"))


@pytest.mark.services
def test_a_small_put_is_read_back_whole_from_the_real_store(s3):
    data = os.urandom(300_000)
    s3.put("test/small.bin", io.BytesIO(data), content_type="image/jpeg")
    assert b"".join(s3.iter_bytes("test/small.bin")) == data
    s3.put("test/small.bin", io.BytesIO(b"again"))  # the same key again: replaced, as S3 does
    assert b"".join(s3.iter_bytes("test/small.bin")) == b"again"


def test_a_forked_child_opens_its_own_connection(scripted):
    """A Celery worker forked from a process that already PUT something never writes on its
    parent's socket."""
    store, storage = scripted([])
    storage.put("parent", io.BytesIO(b"parent"))
    pid = os.fork()
    if pid == 0:  # the child: one PUT, then out without running the parent's test machinery
        try:
            storage.put("child", io.BytesIO(b"child"))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    storage.put("parent-again", io.BytesIO(b"again"))
    assert sorted(body for _, _, body in store.puts) == [b"again", b"child", b"parent"]
    assert len(store.connections) == 2  # the parent's, kept alive, and the child's own


@pytest.mark.once  # about the client's timeouts, not a service: half a minute, in one half of the run
def test_a_store_that_takes_the_connection_and_says_nothing_is_a_503_within_seconds(scripted, monkeypatch):
    """A hung or frozen store (SIGSTOP) accepts connections and answers nothing. A declare, a
    complete, a photo or a live segment waited on it for minutes (a minute per read, five tries)."""
    import concurrent.futures

    from tests.helpers import silent_server

    scripted([])  # the store's credentials and region, from the run or stand-ins

    def through_boto3(storage):
        with unavailable_on_failure():
            storage.multipart_create("clips/silent.mp4", content_type="video/mp4")

    def one_small_put(storage):
        with unavailable_on_failure():
            storage.put("live/silent/0.m4s", io.BytesIO(b"segment"), content_type="video/iso.segment")

    pool = concurrent.futures.ThreadPoolExecutor(2)
    with silent_server() as port:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
        storage = S3Storage("rtcc-silent")
        try:
            calls = [pool.submit(through_boto3, storage), pool.submit(one_small_put, storage)]
            errors = [call.exception(timeout=60) for call in calls]  # before: about 300 s and 60 s
        finally:
            pool.shutdown(wait=False)
    assert all(isinstance(error, StorageUnavailableError) for error in errors), errors
