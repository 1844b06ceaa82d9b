"""Request bodies are limited while they stream, inside the daphne process, before the app (or
Django) reads them; a signed upload URL is checked before its body is read; chunked bodies
(no Content-Length) are read, with the same limits, not taken as empty."""

from __future__ import annotations

import json
import socket
import time

import psutil
import pytest

pytestmark = pytest.mark.django_db(transaction=True)
MiB = 1024 * 1024


def open_request(server, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(head.encode())
    return sock


def send_until_answered(
    sock: socket.socket, total: int, chunk: bytes = b"x" * 65536, chunked: bool = False
) -> tuple[bytes, int]:
    """Streams up to `total` bytes, stopping when the server answers; (answer, bytes sent)."""
    sent, pending = 0, b""
    sock.setblocking(False)
    answer = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answer += sock.recv(65536)
            if answer:
                break
        except BlockingIOError:
            pass
        except ConnectionError:
            break
        if sent < total or pending:
            if not pending:  # a piece goes out whole, however many sends it takes (chunked framing)
                pending = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") if chunked else chunk
                sent += len(chunk)
            try:
                pending = pending[sock.send(pending) :]
            except (BlockingIOError, ConnectionError):
                time.sleep(0.01)
        else:
            time.sleep(0.05)
    sock.setblocking(True)
    sock.settimeout(5)
    try:
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    except (TimeoutError, ConnectionError):
        pass
    sock.close()
    return answer, sent


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def test_an_oversized_declared_body_is_refused_before_it_is_read(live_server_process):
    process = psutil.Process(live_server_process.process.pid)
    before = process.memory_info().rss
    head = (
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {400 * MiB}\r\n\r\n"
    )
    answer, sent = send_until_answered(open_request(live_server_process, head), 400 * MiB)
    assert status_of(answer) == 413, answer[:300]
    assert sent < 50 * MiB
    assert process.memory_info().rss - before < 50 * MiB


def test_an_undeclared_body_over_the_limit_is_cut_off_while_it_streams(live_server_process):
    process = psutil.Process(live_server_process.process.pid)
    before = process.memory_info().rss
    head = (
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    answer, sent = send_until_answered(open_request(live_server_process, head), 400 * MiB, chunked=True)
    assert status_of(answer) == 413, answer[:300]
    assert sent < 50 * MiB
    assert process.memory_info().rss - before < 50 * MiB


def test_a_live_segment_sent_without_a_length_that_grows_too_large_is_segment_too_large(live_server_process):
    """Its code is the contract's own for a segment (section 21); one whose Content-Length already
    says more is refused before it is read, as any body: too_large."""
    path = "/api/v1/live/6f1c2a52-3b7e-4f1e-9d55-0e8f1f0a1b2c/segments/5.m4s"
    for declared, code in (
        (f"Content-Length: {9 * MiB}", "too_large"),
        ("Transfer-Encoding: chunked", "segment_too_large"),
    ):
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
            f"X-Segment-Duration: 1\r\n{declared}\r\n\r\n"
        )
        answer, _ = send_until_answered(open_request(live_server_process, head), 9 * MiB, chunked="chunked" in declared)
        assert status_of(answer) == 413, answer[:300]
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == code


def test_a_forged_upload_url_is_refused_before_its_body_is_read(live_server_process):
    head = (
        "PUT /upload/forged.token.value HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {300 * MiB}\r\n\r\n"
    )
    answer, sent = send_until_answered(open_request(live_server_process, head), 300 * MiB)
    assert status_of(answer) == 403, answer[:300]
    assert sent < 50 * MiB


def test_a_chunked_json_body_is_read_not_taken_as_empty(live_server_process, operator):
    body = json.dumps({"username": "operator", "password": "correct-horse-battery"}).encode()
    head = (
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    sock = open_request(live_server_process, head)
    for piece in (body[:10], body[10:]):
        sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    sock.sendall(b"0\r\n\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert status_of(answer) == 200, answer[:500]
    assert b'"token"' in answer


def assert_refused_in_the_envelope(server, head: str, status: int, code: str) -> None:
    """The raw request is answered `status` with the JSON envelope naming `code`."""
    answer, _ = send_until_answered(open_request(server, head), 0)
    assert status_of(answer) == status, answer[:300]
    head_part, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head_part.lower()
    assert json.loads(body)["error"]["code"] == code


@pytest.mark.parametrize(
    "head",
    [
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: abc\r\n\r\n",
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        "GET /api/v1/me HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
    ],
    ids=["content length not a number", "two content lengths", "header without a colon"],
)
def test_a_request_that_is_not_valid_http_gets_the_json_envelope(live_server_process, head):
    assert_refused_in_the_envelope(live_server_process, head, 400, "bad_request")


@pytest.mark.parametrize(
    "head",
    [
        "GET /api/v1/transparency?x=" + "a" * 16_400 + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET /api/v1/transparency HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + "b" * 17_000 + "\r\n\r\n",
    ],
    ids=["request line", "header"],
)
def test_a_request_line_or_header_over_the_limit_is_told_so(live_server_process, head):
    """Over Twisted's 16 KiB a line was met with a closed connection and no answer at all."""
    assert_refused_in_the_envelope(live_server_process, head, 431, "request_too_large")
