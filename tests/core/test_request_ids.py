"""Every answer carries an X-Request-ID, and the log lines written for it carry the same id
(apps/core/requestids.py): a user quotes the id, whoever runs rtcc finds the lines."""

from __future__ import annotations

import logging
import re
import time
from types import SimpleNamespace

import httpx
import pytest
from asgiref.sync import async_to_sync

from apps.core import requestids
from tests.helpers import asgi_request

HEX_ID = re.compile(r"[0-9a-f]{32}")


async def logging_app(scope, receive, send):
    logging.getLogger("apps.test").warning("inside the request")
    await send({"type": "http.response.start", "status": 204, "headers": [(b"x-request-id", b"forged")]})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b"lb-7f3a:42", True),
        (b"a" * 128, True),
        (b"a" * 129, False),
        (b"two words", False),
        (b"", False),
        (b"<script>", False),
    ],
)
def test_a_plain_id_from_the_proxy_is_kept_anything_else_replaced(sent, kept, caplog):
    app = requestids.RequestId(logging_app)
    handler = logging.Handler()
    handler.addFilter(requestids.WithRequestId())
    handler.setFormatter(logging.Formatter("%(request_tag)s%(message)s"))
    lines: list[str] = []
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    logging.getLogger("apps.test").addHandler(handler)
    try:
        status, headers, _ = async_to_sync(asgi_request)(app, "GET", "/x", headers=[(b"x-request-id", sent)])
    finally:
        logging.getLogger("apps.test").removeHandler(handler)
    rid = headers[b"x-request-id"].decode()
    assert status == 204
    assert rid == sent.decode() if kept else HEX_ID.fullmatch(rid)
    assert lines == [f"[{rid}] inside the request"]  # one header: the app's own was replaced
    assert requestids.current.get() is None  # nothing left behind for the next request


def test_a_line_written_outside_any_request_has_no_id():
    record = logging.LogRecord("apps.test", logging.INFO, __file__, 1, "beat tick", None, None)
    requestids.WithRequestId().filter(record)
    assert record.request_tag == ""  # type: ignore[attr-defined]


def test_the_id_travels_with_the_task_the_request_queued():
    headers: dict = {}
    token = requestids.current.set("req-1")
    try:
        requestids._carry_to_task(headers=headers)
    finally:
        requestids.current.reset(token)
    assert headers == {requestids.TASK_HEADER: "req-1"}
    # the worker: held while the task runs, let go after it
    task = SimpleNamespace(request=SimpleNamespace(**headers))
    requestids._hold_in_task(task_id="t1", task=task)
    assert requestids.current.get() == "req-1"
    requestids._release_in_task(task_id="t1")
    assert requestids.current.get() is None


def test_the_server_answers_with_the_id_and_logs_it(live_server_process):
    # A request for a Host the site does not serve is answered 400 and logged as one warning.
    response = httpx.get(
        f"{live_server_process.url}/api/v1/me", headers={"Host": "scanner.invalid", "X-Request-ID": "probe-5150"}
    )
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "probe-5150"
    assert HEX_ID.fullmatch(httpx.get(f"{live_server_process.url}/healthz").headers["x-request-id"])
    deadline = time.monotonic() + 10
    while "[probe-5150] " not in (log := live_server_process.log_path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    [line] = [line for line in log.splitlines() if "scanner.invalid" in line]
    assert "[probe-5150] " in line
