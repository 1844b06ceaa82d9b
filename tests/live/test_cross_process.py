"""Two daphne processes sharing PostgreSQL, Redis and the store: the camera on one, viewers on the
other; every segment is listed in order wherever it was PUT, and its link works on either."""

from __future__ import annotations

import json
import time

import httpx

from apps.accounts.services import token_issue
from tests.control.test_cross_process import next_of_type
from tests.helpers import ws_connect
from tests.live.conftest import INIT, mark_recording, media, playlist_urls

SIZES = [4096, 250_000, 1024 * 1024, 1024 * 1024 + 1]


def test_segments_put_on_either_process_are_listed_in_order_on_the_other(live_server_pair, camera, operator):
    server_a, server_b = live_server_pair
    token, _ = token_issue(user=operator)
    operator_auth = {"Authorization": f"Bearer {token}"}
    camera_auth = {"Authorization": f"Bearer {camera.token}"}
    with ws_connect(f"{server_a.ws_url}/ws/device/", token=camera.token) as device:
        device.send(json.dumps({"type": "status", "recording": True}))
        time.sleep(0.3)  # the status frame is in the live copy
        response = httpx.post(
            f"{server_b.url}/api/v1/devices/{camera.id}/live", json={"reason": "Cross-process"}, headers=operator_auth
        )
        assert response.status_code == 201, response.text
        live = response.json()
        frame = next_of_type(device, "live")
        assert frame["action"] == "start" and frame["live"]["id"] == live["id"]
        upload_url = frame["live"]["upload_url"]
        assert upload_url == f"{server_b.url}/api/v1/live/{live['id']}/segments/"
        # Bodies kept in memory as they arrive and one spooled to a file (over 1 MiB) reach the
        # store whole, byte for byte (apps/core/bodylimits.py).
        uploads = {"init.mp4": INIT, **{f"{n}.m4s": media(n, SIZES[n]) for n in range(4)}}
        for index, (name, body) in enumerate(uploads.items()):
            server = (server_a, server_b)[index % 2]
            url = upload_url.replace(server_b.url, server.url) + name
            put = httpx.put(url, content=body, headers={**camera_auth, "X-Segment-Duration": "1.000"})
            assert put.status_code == 201, put.text
            # listed at once on the other process
            other = server_b if server is server_a else server_a
            text = httpx.get(f"{other.url}/api/v1/live/{live['id']}/playlist.m3u8", headers=operator_auth).text
            init_url, urls = playlist_urls(text)
            if name != "init.mp4":
                assert urls[-1].split("?")[0].endswith(f"/{name}")
        response = httpx.get(f"{server_a.url}/api/v1/live/{live['id']}/playlist.m3u8", headers=operator_auth)
        assert response.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert "#EXT-X-MEDIA-SEQUENCE:0" in response.text
        init_url, urls = playlist_urls(response.text)
        assert [u.split("?")[0].rsplit("/", 1)[1] for u in urls] == ["0.m4s", "1.m4s", "2.m4s", "3.m4s"]
        assert httpx.get(init_url.replace(server_a.url, server_b.url)).content == INIT
        for n, url in enumerate(urls):
            assert httpx.get(url.replace(server_a.url, server_b.url)).content == media(n, SIZES[n])
        state = httpx.get(f"{server_b.url}/api/v1/live/{live['id']}", headers=operator_auth).json()
        assert state["state"] == "live"
        assert [v["user"] for v in state["viewers"]] == [str(operator.pk)]
    # the camera went away: the session ended, seen from the other process
    deadline = time.monotonic() + 10
    while True:
        state = httpx.get(f"{server_b.url}/api/v1/live/{live['id']}", headers=operator_auth).json()
        if state["state"] == "ended" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (state["state"], state["end_reason"]) == ("ended", "disconnected")
    ended = httpx.get(f"{server_a.url}/api/v1/live/{live['id']}/playlist.m3u8", headers=operator_auth).text
    assert ended.rstrip().endswith("#EXT-X-ENDLIST")


def test_a_daphne_process_answers_repeat_reads_with_the_same_rules(
    live_server_process, camera, operator, make_user, make_device
):
    """Repeat playlist reads and segment fetches are answered before Django where they can be
    (apps/live/fastpath.py): same content, and credentials that stop working stop at once."""
    server = live_server_process
    token, _ = token_issue(user=operator)
    auth = {"Authorization": f"Bearer {token}"}
    live = httpx.post(f"{server.url}/api/v1/devices/{camera.id}/live", json={"reason": "Fast path"}, headers=auth)
    assert live.status_code == 201, live.text
    live_id = live.json()["id"]
    upload = f"{server.url}/api/v1/live/{live_id}/segments/"
    camera_auth = {"Authorization": f"Bearer {camera.token}", "X-Segment-Duration": "1.000"}
    assert httpx.put(f"{upload}init.mp4", content=INIT, headers=camera_auth).status_code == 201
    assert httpx.put(f"{upload}0.m4s", content=media(0), headers=camera_auth).status_code == 201
    again = httpx.put(f"{upload}0.m4s", content=media(0, 10), headers=camera_auth)
    assert again.status_code == 200 and again.json()["size"] == 2048
    no_duration = httpx.put(f"{upload}5.m4s", content=media(5), headers={"Authorization": camera_auth["Authorization"]})
    assert no_duration.status_code == 400 and no_duration.json()["error"]["fields"]["X-Segment-Duration"]
    bad_name = httpx.put(f"{upload}5.mp4", content=media(5), headers=camera_auth)
    assert bad_name.status_code == 400 and bad_name.json()["error"]["code"] == "invalid_segment_name"
    stranger = make_device(kind="bodycam")
    other_cam = {**camera_auth, "Authorization": f"Bearer {stranger.token}"}
    assert httpx.put(f"{upload}5.m4s", content=media(5), headers=other_cam).status_code == 404
    too_big = httpx.put(f"{upload}5.m4s", content=b"\0" * (8 * 1024 * 1024 + 1), headers=camera_auth)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large"
    playlist_url = f"{server.url}/api/v1/live/{live_id}/playlist.m3u8"
    first = httpx.get(playlist_url, headers=auth)
    again = httpx.get(playlist_url, headers=auth)
    for response in (first, again):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    strip = [line.split("?")[0] for line in again.text.splitlines()]
    assert strip == [line.split("?")[0] for line in first.text.splitlines()]
    init_url, urls = playlist_urls(again.text)
    assert httpx.get(init_url).content == INIT
    assert httpx.get(urls[0]).content == media(0)
    other, _ = token_issue(user=make_user("operator"))
    denied = httpx.get(urls[0], headers={"Authorization": f"Bearer {other}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "not_your_link"
    assert httpx.get(urls[0].replace("token=", "token=x")).status_code == 403
    httpx.put(f"{upload}1.m4s", content=media(1), headers=camera_auth)
    _, urls = playlist_urls(httpx.get(playlist_url, headers=auth).text)
    assert [u.split("?")[0].rsplit("/", 1)[1] for u in urls] == ["0.m4s", "1.m4s"]
    assert httpx.post(f"{server.url}/api/v1/live/{live_id}/stop", headers=auth).json()["state"] == "ended"
    late = httpx.put(f"{upload}2.m4s", content=media(2), headers=camera_auth)
    assert late.status_code == 409 and late.json()["error"]["code"] == "live_ended"
    assert httpx.get(playlist_url, headers=auth).text.rstrip().endswith("#EXT-X-ENDLIST")
    operator.is_active = False
    operator.save(update_fields=["is_active"])
    assert httpx.get(playlist_url, headers=auth).status_code == 401
    from apps.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="live.view", object_id=live_id).count() == 1


def test_the_other_process_serves_a_new_segment_from_the_redis_copy_and_the_store_stays_the_truth(
    live_server_pair, camera, operator
):
    """A viewer on the other process gets a new segment from Redis's short-lived copy (no read of
    the store); with no copy there, from the store."""
    from apps.integrations.storage import get_storage
    from apps.live import index

    server_a, server_b = live_server_pair
    token, _ = token_issue(user=operator)
    auth = {"Authorization": f"Bearer {token}"}
    mark_recording(camera)
    live = httpx.post(f"{server_a.url}/api/v1/devices/{camera.id}/live", json={"reason": "Copy"}, headers=auth)
    assert live.status_code == 201, live.text
    live_id = live.json()["id"]
    upload = f"{server_a.url}/api/v1/live/{live_id}/segments/"
    camera_auth = {"Authorization": f"Bearer {camera.token}", "X-Segment-Duration": "1.000"}
    for name, body in (("init.mp4", INIT), ("0.m4s", media(0, 4096)), ("1.m4s", media(1, 4096))):
        assert httpx.put(upload + name, content=body, headers=camera_auth).status_code == 201
    redis = index.client()
    assert redis.ttl(f"rtcc:live:{live_id}:bytes:0.m4s") in range(1, 11)  # RTCC_LIVE_HOT_SECONDS
    assert redis.ttl(f"rtcc:live:{live_id}:bytes:init.mp4") > 3600  # the init segment: as long as the index
    get_storage().delete(f"live/{live_id}/0.m4s")  # the store cannot serve it: only the copy can
    redis.delete(f"rtcc:live:{live_id}:bytes:1.m4s")  # no copy: only the store can
    text = httpx.get(f"{server_b.url}/api/v1/live/{live_id}/playlist.m3u8", headers=auth).text
    init_url, urls = playlist_urls(text)
    assert httpx.get(init_url.replace(server_a.url, server_b.url)).content == INIT
    assert [httpx.get(url.replace(server_a.url, server_b.url)).content for url in urls] == [
        media(0, 4096),
        media(1, 4096),
    ]
