"""The simulator's upload client retries 429/502/503/504 as Retry-After says (issue 13, item 2)."""

from __future__ import annotations

import httpx

from apps.simulator.client import ClipUploader


def uploader_against(answers: list[httpx.Response]) -> tuple[ClipUploader, list[httpx.Request]]:
    """A ClipUploader whose server answers with `answers` in turn (an HTTP transport, not rtcc)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    uploader = ClipUploader("http://rtcc.test", "rtd_token", retry_for=30)
    uploader.api = httpx.Client(base_url="http://rtcc.test", transport=httpx.MockTransport(handler))
    return uploader, seen


def unavailable(status: int = 503, retry_after: str | None = "0") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"error": {"code": "storage_unavailable", "message": "later", "retry_after": 0}}
    return httpx.Response(status, json=body, headers=headers)


def test_complete_is_sent_again_after_503_429_502_504():
    done = httpx.Response(202, json={"id": "c1", "state": "verifying"})
    uploader, seen = uploader_against(
        [unavailable(503), unavailable(429), unavailable(502, None), unavailable(504, None), done]
    )
    uploader.retry_max_pause = 0.01
    assert uploader.complete("c1") == (202, {"id": "c1", "state": "verifying"})
    assert len(seen) == 5 and {r.url.path for r in seen} == {"/api/v1/clips/c1/complete"}


def test_other_errors_are_not_retried():
    uploader, seen = uploader_against([httpx.Response(409, json={"error": {"code": "clip_not_uploading"}})])
    assert uploader.complete("c1")[0] == 409
    assert len(seen) == 1


def test_a_live_segment_is_sent_again_after_a_503_and_given_up_after_three_tries():
    import asyncio

    from apps.simulator.live import LiveStreamer

    seen: list[httpx.Request] = []
    answers = [unavailable(503), httpx.Response(201, json={"name": "0.m4s"})]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0) if answers else unavailable(503)

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            streamer = LiveStreamer(http, "rtd_token")
            first = await streamer._put("http://rtcc.test/api/v1/live/x/segments/0.m4s", b"seg", 1.0)
            second = await streamer._put("http://rtcc.test/api/v1/live/x/segments/1.m4s", b"seg", 1.0)
            return first, second

    assert asyncio.run(scenario()) == (201, 503)
    assert [r.url.path.rsplit("/", 1)[1] for r in seen] == ["0.m4s", "0.m4s", "1.m4s", "1.m4s", "1.m4s"]
    assert all(r.content == b"seg" and r.headers["X-Segment-Duration"] == "1.000" for r in seen)
