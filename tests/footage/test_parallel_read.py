"""Verification reads a stored object back, as one stream into reused buffers or as parallel
ranged GETs, hashed in order: the digest is the object's, whatever the part boundaries, a stream
that ends early is an error (not a digest of what came), and a missing object says so."""

import hashlib
import io
import os

import pytest

from apps.footage.ingest.services import object_digest
from apps.integrations.storage import CHUNK, DiskStorage, ObjectMissingError, StorageError, read_ahead


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
    import http.client
    import threading
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class ForwardProxy(BaseHTTPRequestHandler):
        def forward(self):
            seen.append(f"{self.command} {self.path}")
            target = urllib.parse.urlsplit(self.path)  # a proxy is asked for the absolute URL
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            upstream.request(self.command, f"{target.path}?{target.query}", body=sent, headers=dict(self.headers))
            answer = upstream.getresponse()
            body = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = forward  # noqa: N815 (http.server's names)

        def log_message(self, *args):
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), ForwardProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
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
