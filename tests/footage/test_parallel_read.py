"""Verification reads a stored object back, as one stream into reused buffers or as parallel
ranged GETs, hashed in order: the digest is the object's, whatever the part boundaries, a stream
that ends early is an error (not a digest of what came), and a missing object says so."""

import hashlib
import io
import os

import pytest

from apps.footage.ingest.services import object_digest
from apps.integrations.storage import CHUNK, DiskStorage, ObjectMissingError, StorageError, read_ahead


def relay_server(resolve, change=lambda request, body: body):
    """A local HTTP server that relays each GET, HEAD and PUT as it came (the Host header too, so
    presigned URLs still hold) to where resolve(request) says, (host, port, path and query); the
    answer's body passes through change(request, body). Stop it with shutdown()."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a store answers

        def relay(self):
            host, port, target = resolve(self)
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            upstream = http.client.HTTPConnection(host, port, timeout=30)
            upstream.request(self.command, target, body=sent, headers=dict(self.headers))
            answer = upstream.getresponse()
            body = change(self, answer.read())
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(name, value)
            length = answer.getheader("Content-Length") if self.command == "HEAD" else str(len(body))
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_HEAD = do_PUT = relay  # noqa: N815 (http.server's names)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.services
def test_parallel_ranged_reads_give_the_object_back_in_order(s3):
    data = os.urandom(5 * 1024 * 1024 + 12345)  # parts of 1 MiB: five whole ones and a short last
    s3.put("test/parallel.bin", io.BytesIO(data))
    parts = list(s3.iter_bytes_parallel("test/parallel.bin", part_size=1024 * 1024, parallel=3))
    assert [len(p) for p in parts] == [1024 * 1024] * 5 + [12345]
    assert b"".join(parts) == data
    assert object_digest("test/parallel.bin", storage=s3) == (len(data), hashlib.sha256(data).hexdigest())


@pytest.mark.services
def test_one_stream_read_into_reused_buffers_gives_the_object_back_in_order(s3):
    data = os.urandom(3 * CHUNK + 4321)
    s3.put("test/stream.bin", io.BytesIO(data))
    read = [bytes(view) for view in s3.iter_whole("test/stream.bin", streams=1)]
    assert all(len(piece) <= CHUNK for piece in read) and b"".join(read) == data
    digest = (len(data), hashlib.sha256(data).hexdigest())
    assert object_digest("test/stream.bin", storage=s3, streams=1) == digest
    assert object_digest("test/stream.bin", storage=s3, streams=3) == digest
    with pytest.raises(ObjectMissingError):
        list(s3.iter_whole("test/never-stored.bin", streams=1))


def test_the_disk_backend_reads_the_whole_object_back_in_order(tmp_path):
    disk = DiskStorage(tmp_path)
    data = os.urandom(2 * CHUNK + 99)
    disk.put("clips/a.bin", io.BytesIO(data))
    assert b"".join(bytes(view) for view in disk.iter_whole("clips/a.bin")) == data
    assert object_digest("clips/a.bin", storage=disk) == (len(data), hashlib.sha256(data).hexdigest())
    with pytest.raises(ObjectMissingError):
        list(disk.iter_whole("clips/missing.bin"))


def test_a_stream_that_ends_before_its_length_is_an_error_not_a_digest():
    # a connection cut mid-object: verification must retry, not call the clip corrupt
    source = io.BytesIO(os.urandom(CHUNK + 10))
    with pytest.raises(StorageError, match="ended after"):
        list(read_ahead(source.readinto, 2 * CHUNK))


@pytest.mark.services
def test_a_missing_object_is_named_not_hashed_as_empty(s3):
    with pytest.raises(ObjectMissingError):
        object_digest("test/never-stored.bin", storage=s3)


@pytest.mark.services
def test_the_one_stream_read_goes_through_the_proxy_set_for_the_store(s3, monkeypatch):
    """HTTP_PROXY names a proxy between rtcc and its store: verification reads and small PUTs go
    through it too."""
    import urllib.parse

    seen: list[str] = []

    def forward(request):
        seen.append(f"{request.command} {request.path}")
        target = urllib.parse.urlsplit(request.path)  # a proxy is asked for the absolute URL
        return target.hostname, target.port, f"{target.path}?{target.query}"

    proxy = relay_server(forward)
    try:
        data = os.urandom(CHUNK + 777)
        s3.put("test/proxied.bin", io.BytesIO(data))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        proxied = type(s3)(s3.bucket)  # a process started with the proxy set (botocore reads it then)
        read = b"".join(bytes(view) for view in proxied.iter_whole("test/proxied.bin", streams=1))
        assert read == data
        assert any(line.startswith("GET ") and "test/proxied.bin" in line for line in seen)
        proxied.put("test/proxied-small.bin", io.BytesIO(b"through the proxy"))  # a small PUT too
        assert any(line.startswith("PUT ") and "test/proxied-small.bin" in line for line in seen)
        assert b"".join(s3.iter_bytes("test/proxied-small.bin")) == b"through the proxy"
    finally:
        proxy.shutdown()


@pytest.fixture
def store_behind(s3, monkeypatch):
    """S3Storage reaching the run's store through a relay standing as its endpoint: it notes each
    GET's Range, and cuts the answer to the GET numbered in `cut` short by 100 bytes."""
    import urllib.parse

    upstream = urllib.parse.urlsplit(s3.client.meta.endpoint_url)
    state: dict = {"ranges": [], "cut": None}

    def reverse(request):
        if request.command == "GET":
            state["ranges"].append(request.headers.get("Range"))
        return upstream.hostname, upstream.port, request.path

    def cut(request, body: bytes) -> bytes:
        return body[:-100] if request.command == "GET" and state["cut"] == len(state["ranges"]) else body

    server = relay_server(reverse, cut)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server.server_address[1]}")
    yield type(s3)(s3.bucket), state
    server.shutdown()


@pytest.mark.services
def test_one_stream_asks_the_store_for_one_window_at_a_time(s3, store_behind, monkeypatch):
    """A whole-object GET let SeaweedFS buffer ~600 MiB ahead of the hasher, and the next upload
    into it ran 40% slower: verification asks for bounded windows, at most two at a time."""
    from apps.integrations import storage

    window = CHUNK + 1000  # not a multiple of the read buffers: windows end inside a buffer
    monkeypatch.setattr(storage, "WHOLE_WINDOW", window)
    data = os.urandom(3 * CHUNK + 4321)
    s3.put("test/windows.bin", io.BytesIO(data))
    behind, state = store_behind
    assert b"".join(bytes(view) for view in behind.iter_whole("test/windows.bin", streams=1)) == data
    starts = range(0, len(data), window)  # the next window is asked for on a second connection: any order
    assert sorted(state["ranges"]) == sorted(f"bytes={s}-{min(s + window, len(data)) - 1}" for s in starts)
    assert object_digest("test/windows.bin", storage=behind, streams=1) == (len(data), hashlib.sha256(data).hexdigest())


@pytest.mark.services
@pytest.mark.parametrize("streams", [1, 3])
def test_a_range_cut_short_is_an_error_not_bytes_shifted_into_the_next(s3, store_behind, monkeypatch, streams):
    """One stream of windows, or parallel ranged GETs: an answer shorter than its range fails the
    read (verification retries it), it never hashes the bytes that came as if they were all."""
    from apps.integrations import storage

    monkeypatch.setattr(storage, "WHOLE_WINDOW", CHUNK)
    data = os.urandom(2 * storage.PARALLEL_PART + CHUNK)  # three ranges of the parallel read too
    s3.put("test/cut.bin", io.BytesIO(data))
    behind, state = store_behind
    state["cut"] = 2  # the second GET's answer arrives 100 bytes short
    with pytest.raises(StorageError):
        object_digest("test/cut.bin", storage=behind, streams=streams)
    state["cut"], state["ranges"] = None, []
    assert object_digest("test/cut.bin", storage=behind, streams=streams) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert len(state["ranges"]) == (len(data) // CHUNK if streams == 1 else 3)  # ranged GETs, never the whole
