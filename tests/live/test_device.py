"""The camera's side: told to start and stop over its socket; the session ends when it stops
recording or disconnects; the officer's phone hears who is watching; segments expire."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.integrations.storage import ObjectMissingError, get_storage
from apps.live import services
from apps.live.models import LiveSegment, LiveSession
from tests.control.conftest import SOCKET_WAIT, bearer, connected, receive_type, run
from tests.helpers import api_client, on_a_loop, pushed
from tests.live.conftest import INIT, media, playlist_urls, put_segment, request_live

pytestmark = pytest.mark.django_db(transaction=True)

FRAME_KEYS = {"id", "upload_url", "segment_seconds"}


async def connect_recording(camera) -> WebsocketCommunicator:
    communicator = await connected("/ws/device/", camera.auth)
    await communicator.send_to(text_data=json.dumps({"type": "status", "recording": True, "battery_pct": 80}))
    return communicator


async def wait_ended(session_id, timeout: float = 30) -> LiveSession:
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        session = await database_sync_to_async(LiveSession.objects.get)(pk=session_id)
        if session.state == "ended" or asyncio.get_running_loop().time() > deadline:
            return session
        await asyncio.sleep(0.02)


def ask(operator, camera) -> dict:
    response = request_live(api_client(operator), camera.id)
    assert response.status_code == 201, response.content
    return response.json()


def test_the_camera_is_told_to_start_and_ends_the_session_when_it_stops_recording(operator, camera):
    async def scenario():
        cam = await connect_recording(camera)
        live = await database_sync_to_async(ask)(operator, camera)
        frame = await receive_type(cam, "live")
        assert frame["action"] == "start"
        assert set(frame["live"]) == FRAME_KEYS
        assert frame["live"]["id"] == live["id"]
        assert frame["live"]["upload_url"] == f"http://testserver/api/v1/live/{live['id']}/segments/"
        assert frame["live"]["segment_seconds"] == 1
        await cam.send_to(text_data=json.dumps({"type": "status", "recording": False}))
        session = await wait_ended(live["id"])
        assert (session.state, session.end_reason) == ("ended", "recording_stopped")
        stop = await receive_type(cam, "live")
        assert stop["action"] == "stop" and stop["live"]["id"] == live["id"]
        await cam.disconnect()

    run(scenario)
    assert AuditEvent.objects.filter(action="live.end", object_id=str(LiveSession.objects.get().pk)).exists()


def test_the_session_ends_when_the_camera_disconnects(operator, camera):
    async def scenario():
        cam = await connect_recording(camera)
        live = await database_sync_to_async(ask)(operator, camera)
        await receive_type(cam, "live")
        await cam.disconnect()
        session = await wait_ended(live["id"])
        assert (session.state, session.end_reason) == ("ended", "disconnected")

    run(scenario)


def test_an_operator_stop_tells_the_camera(operator, camera):
    client = api_client(operator)

    async def scenario():
        cam = await connect_recording(camera)
        live = await database_sync_to_async(ask)(operator, camera)
        await receive_type(cam, "live")
        response = await database_sync_to_async(client.post)(f"/api/v1/live/{live['id']}/stop")
        assert response.json()["state"] == "ended"
        stop = await receive_type(cam, "live")
        assert stop["action"] == "stop" and stop["live"]["id"] == live["id"]
        await cam.disconnect()

    run(scenario)


def test_the_console_hears_live_updates(operator, camera):
    from apps.accounts.services import token_issue

    token, _ = token_issue(user=operator)

    cam_client = api_client(token=camera.token)

    async def scenario():
        console = await connected("/ws/console/", bearer(token))
        live = await database_sync_to_async(ask)(operator, camera)
        event = await receive_type(console, "live.update")
        assert event["live"]["id"] == live["id"] and event["live"]["state"] == "requested"
        await database_sync_to_async(put_segment)(cam_client, live["id"], "0.m4s", media(0))
        event = await receive_type(console, "live.update")
        assert event["live"]["state"] == "live"
        await console.disconnect()

    run(scenario)


def test_the_officer_is_told_on_their_phone_who_watches_and_why(operator, camera, officer_phone, make_user):
    _, phone_token = officer_phone
    live = ask(operator, camera)
    client = api_client(operator)
    for _ in range(2):
        services._touched.clear()
        assert client.get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    messages = pushed(phone_token)
    assert len(messages) == 1  # the first look only
    message = messages[0]
    assert message["data"]["type"] == "live.view"
    assert message["data"]["live_id"] == live["id"]
    assert message["data"]["viewer"] == str(operator.pk)
    assert message["data"]["reason"] == "Shots fired call, 5th and Main"
    assert operator.full_name in message["body"] and "Shots fired call, 5th and Main" in message["body"]
    assert "Cam 12" in message["title"]
    api_client(make_user("operator", full_name="Second Viewer")).get(f"/api/v1/live/{live['id']}/playlist.m3u8")
    assert [m["data"]["viewer_name"] for m in pushed(phone_token)][-1] == "Second Viewer"
    assert pushed(phone_token)[-1]["data"]["reason"] == "Shots fired call, 5th and Main"  # asked nothing: the session's


def test_a_second_operator_who_asks_with_a_reason_of_their_own_is_told_with_it(
    operator, camera, officer_phone, make_user
):
    """The officer was told the first operator's reason for the second, who had given their own."""
    _, phone_token = officer_phone
    live = ask(operator, camera)
    second = make_user("operator", full_name="Second Viewer")
    again = api_client(second).post(
        f"/api/v1/devices/{camera.device.pk}/live", {"reason": "Suspect description check"}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == live["id"]
    assert api_client(second).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    message = pushed(phone_token)[-1]
    assert message["data"]["viewer_name"] == "Second Viewer"
    assert message["data"]["reason"] == "Suspect description check"
    assert "Suspect description check" in message["body"] and "Shots fired" not in message["body"]
    view = AuditEvent.objects.get(action="live.view", actor_id=str(second.pk), object_id=live["id"])
    assert view.details["reason"] == "Suspect description check"  # the trail too, not the session's reason


def test_a_first_look_answered_before_django_audits_the_viewers_own_reason(operator, camera, make_user):
    """The fast path's one statement (live.services.viewer_seen_statement) writes the `live.view`
    event with the reason the viewer gave when they asked for the session, as the API view does;
    a viewer who never asked reads under the session's reason."""
    from django.conf import settings

    from apps.accounts.services import token_issue
    from apps.audit.selectors import audit_verify_chain
    from apps.live import fastpath

    live = ask(operator, camera)
    second, third = make_user("operator"), make_user("operator")
    again = api_client(second).post(
        f"/api/v1/devices/{camera.device.pk}/live", {"reason": "Suspect description check"}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == live["id"]
    services._touched.clear()
    viewers = [
        (user, token_issue(user=user)[0], address) for user, address in ((second, "10.1.2.4"), (third, "10.1.2.5"))
    ]
    looks = [
        (fastpath._playlist_async, token, live["id"], "http://testserver", address) for _, token, address in viewers
    ]
    for (user, _, _), answer in zip(viewers, on_a_loop(*looks), strict=True):
        if answer is None:  # the embedded default keeps no playlist copy: the API view answers
            assert not settings.ENV.redis_url
            assert api_client(user).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
        else:
            assert answer[0] == 200
    reasons = {
        event.actor_id: event.details["reason"]
        for event in AuditEvent.objects.filter(action="live.view", object_id=live["id"])
    }
    assert reasons == {str(second.pk): "Suspect description check", str(third.pk): "Shots fired call, 5th and Main"}
    verdict = audit_verify_chain()
    assert verdict.ok, verdict.problems


def test_a_first_look_after_the_session_ended_is_told_as_such(operator, camera, officer_phone, make_user):
    """Reading an ended session's playlist (what it recorded) is audited and told to the officer,
    as every first read is, but not as "started watching ... live" minutes after it ended."""
    _, phone_token = officer_phone
    live = ask(operator, camera)
    services._touched.clear()
    assert api_client(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    assert api_client(operator).post(f"/api/v1/live/{live['id']}/stop").json()["state"] == "ended"
    late = make_user("operator", full_name="Late Viewer")
    assert api_client(late).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    assert AuditEvent.objects.filter(action="live.view", actor_id=str(late.pk), object_id=live["id"]).exists()
    during, after = pushed(phone_token)
    assert during["data"]["ended"] == "false" and "started watching" in during["body"]
    assert after["data"]["viewer_name"] == "Late Viewer" and after["data"]["ended"] == "true"
    assert "after it ended" in after["body"] and "started watching" not in after["body"]


def test_the_officers_push_reaches_the_fcm_fake(fcm, operator, camera, officer_phone):
    _, phone_token = officer_phone
    live = ask(operator, camera)
    api_client(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8")
    messages = pushed(phone_token)
    assert [m["data"]["type"] for m in messages] == ["live.view"]
    assert messages[0]["data"]["viewer_name"] == operator.full_name


def test_an_officers_notice_fcm_could_not_take_is_sent_by_the_sweep_once(
    fcm, settings, operator, camera, officer_phone
):
    """FCM out at the first look: the notice stays owed, and the sweep sends it once FCM is back
    (and never again after)."""
    import httpx

    from apps.live.models import LiveViewer

    settings.RTCC_PUSH_BACKOFF_BASE = 0.01
    settings.RTCC_PUSH_INLINE_RETRY_BUDGET = 0.05
    _, phone_token = officer_phone
    live = ask(operator, camera)
    httpx.post(f"{fcm}/_faults", json={"outage": True}, timeout=5).raise_for_status()
    assert api_client(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    viewer = LiveViewer.objects.get(session_id=live["id"], user=operator)
    assert viewer.officer_told_at is None and pushed(phone_token) == []
    httpx.post(f"{fcm}/_faults", json={"outage": False}, timeout=5).raise_for_status()

    assert services.live_sweep()["notices_owed"] == 0  # not yet: the first try may still be queued
    later = timezone.now() + timedelta(seconds=services.NOTICE_OWED_AFTER_S + 1)
    assert services.live_sweep(now=later)["notices_owed"] == 1
    assert [m["data"]["viewer"] for m in pushed(phone_token)] == [str(operator.pk)]
    assert services.live_sweep(now=later)["notices_owed"] == 0
    services.live_notify_officer(viewer_id=viewer.pk)  # a repeat of the task sends nothing
    assert len(pushed(phone_token)) == 1


def test_a_phone_fcm_did_not_take_the_notice_for_gets_it_from_the_sweep_and_the_others_once(
    fcm, operator, officer, camera, officer_phone
):
    """Of the officer's two phones FCM takes the notice for one and answers UNAVAILABLE for the
    other (the fake's `flaky-` token, first try): the retry goes to that phone alone."""
    import uuid

    from tests.control.conftest import create_device

    _, steady = officer_phone
    flaky = f"flaky-{uuid.uuid4().hex}"
    create_device(kind="phone", officer=officer, push_token=flaky)
    live = ask(operator, camera)
    assert api_client(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    assert (len(pushed(steady)), len(pushed(flaky))) == (1, 0)

    later = timezone.now() + timedelta(seconds=services.NOTICE_OWED_AFTER_S + 1)
    assert services.live_sweep(now=later)["notices_owed"] == 1
    assert (len(pushed(steady)), len(pushed(flaky))) == (1, 1)
    assert services.live_sweep(now=later)["notices_owed"] == 0


def test_a_first_look_answered_before_django_is_audited_pushed_and_listed_once(
    operator, make_user, camera, officer_phone, settings
):
    """The playlist's fast path (apps/live/fastpath.py) records a viewer it has not seen: the audit
    event (with the caller's address), the count, the officer's push and the console's update
    listing them, once per person, whichever process or path sees them first. On PostgreSQL in one
    statement from the event loop, and two people who come at once are both in the update."""
    import asyncio

    from channels import DEFAULT_CHANNEL_LAYER
    from channels.layers import channel_layers

    from apps.accounts.services import token_issue
    from apps.audit.selectors import audit_verify_chain
    from apps.core.fastpaths import background_settled
    from apps.core.realtime import CONSOLE_GROUP
    from apps.counters import names as counted
    from apps.counters.selectors import counter_totals
    from apps.live import fastpath
    from apps.live.models import LiveViewer

    _, phone_token = officer_phone
    live = ask(operator, camera)
    second = make_user("operator", full_name="Dana Second")
    token, _ = token_issue(user=operator)
    token2, _ = token_issue(user=second)
    services._touched.clear()

    async def scenario():
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        console = await layer.new_channel()
        await layer.group_add(CONSOLE_GROUP, console)
        answers = [
            await fastpath._playlist_async(token, live["id"], "http://testserver", "10.1.2.3"),
            await fastpath._playlist_async(token2, live["id"], "http://testserver", "10.1.2.4"),
        ]
        await background_settled()
        listed: list = []
        while answers[0] is not None and len(listed) < 2:  # until an update lists both
            message = await asyncio.wait_for(layer.receive(console), SOCKET_WAIT)
            if message["event"]["type"] == "live.update":
                listed = [viewer["username"] for viewer in message["event"]["live"]["viewers"]]
        return answers, listed

    answers, listed = run(scenario)
    if not settings.ENV.redis_url:  # the embedded default keeps no playlist copy: the API view answers
        assert answers == [None, None] and not LiveViewer.objects.filter(session_id=live["id"]).exists()
        return
    for status, _headers, body in answers:
        assert status == 200 and body.decode().startswith("#EXTM3U")
    assert listed == [operator.username, second.username]
    views = list(AuditEvent.objects.filter(action="live.view", object_id=live["id"]).order_by("at"))
    assert [(event.actor_id, event.source_ip) for event in views] == [
        (str(operator.pk), "10.1.2.3"),
        (str(second.pk), "10.1.2.4"),
    ]
    assert views[0].details == {
        "device": camera.id,
        "officer": str(camera.device.officer_id),
        "reason": "Shots fired call, 5th and Main",
    }
    assert views[0].object_type == "livesession"
    viewers = LiveViewer.objects.filter(session_id=live["id"]).order_by("first_viewed_at")
    assert list(viewers.values_list("user_id", flat=True)) == [operator.pk, second.pk]
    assert sorted(m["data"]["viewer_name"] for m in pushed(phone_token)) == [second.full_name, operator.full_name]
    now = timezone.now()

    def views_counted() -> dict:  # what the transparency report reads
        return counter_totals(start=now - timedelta(hours=1), end=now + timedelta(hours=1), names=[counted.LIVE_VIEW])

    assert views_counted() == {counted.LIVE_VIEW: 2}
    services._touched.clear()  # as if the next reads came through another process, in a thread
    assert fastpath._playlist(token, live["id"], "http://testserver", "10.1.2.3")[0] == 200
    assert run(fastpath._playlist_async, token2, live["id"], "http://testserver", "10.1.2.4")[0] == 200
    assert api_client(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    assert AuditEvent.objects.filter(action="live.view", object_id=live["id"]).count() == 2
    assert len(pushed(phone_token)) == 2
    assert views_counted() == {counted.LIVE_VIEW: 2}
    verdict = audit_verify_chain()  # chains what waits first, then checks every link
    assert verdict.ok, verdict.problems


@pytest.mark.services
def test_a_first_look_whose_connection_was_lost_is_read_back_as_it_was(operator, camera, postgres_db):
    """When the connection is lost under the first look's statement, whether it committed is read
    back: a row first seen at that statement's time is its first look; no row, it did not commit."""
    from datetime import timedelta

    from apps.core import aiodb
    from apps.live.models import LiveViewer

    live = ask(operator, camera)
    now = timezone.now()

    async def settled(at):
        try:
            return await aiodb.fetchone(
                *services.viewer_seen_settled_statement(session_id=live["id"], user_id=operator.pk, now=at)
            )
        finally:
            await aiodb.close_all()

    officer = camera.device.officer_id
    assert run(settled, now) == (None, None, officer)  # nothing committed: the statement is repeated
    LiveViewer.objects.create(session_id=live["id"], user=operator, first_viewed_at=now, last_viewed_at=now)
    viewer = LiveViewer.objects.get(session_id=live["id"])
    assert run(settled, now) == (viewer.pk, True, officer)  # that statement's first look
    assert run(settled, now + timedelta(microseconds=1)) == (viewer.pk, False, officer)  # someone else's


def _segments_purged(operator, camera, settings) -> str:
    """Segments past the retention go; the init segment, sent once at the start, stays while the
    session is open (a session renewed past the retention lost its EXT-X-MAP, and with it every
    segment a player could decode), and goes with the last of its segments once it ended."""
    settings.RTCC_LIVE_RETENTION = timedelta(minutes=3)
    live = ask(operator, camera)
    cam = api_client(token=camera.token)
    put_segment(cam, live["id"], "init.mp4", INIT)
    put_segment(cam, live["id"], "0.m4s", media(0))
    put_segment(cam, live["id"], "1.m4s", media(1))
    LiveSegment.objects.exclude(name="1.m4s").update(stored_at=timezone.now() - timedelta(minutes=4))
    storage = get_storage()
    assert storage.exists(f"live/{live['id']}/0.m4s")
    assert services.segments_purge() == 1
    assert not storage.exists(f"live/{live['id']}/0.m4s")
    assert storage.exists(f"live/{live['id']}/init.mp4") and storage.exists(f"live/{live['id']}/1.m4s")
    assert sorted(LiveSegment.objects.values_list("name", flat=True)) == ["1.m4s", "init.mp4"]
    services._cache.clear()
    with pytest.raises(ObjectMissingError):  # no copy left anywhere (Redis's included)
        services.segment_bytes(session_id=live["id"], name="0.m4s")
    init, urls = playlist_urls(api_client(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode())
    assert init is not None and [u.split("?")[0].rsplit("/", 1)[1] for u in urls] == ["1.m4s"]
    assert services.segments_purge() == 0
    # Ended, and its last segment past the retention too: the init segment goes with it.
    api_client(operator).post(f"/api/v1/live/{live['id']}/stop")
    assert services.segments_purge() == 0  # 1.m4s is still kept: so is init
    LiveSegment.objects.filter(name="1.m4s").update(stored_at=timezone.now() - timedelta(minutes=4))
    assert services.segments_purge() == 2
    assert not LiveSegment.objects.exists() and not storage.exists(f"live/{live['id']}/init.mp4")
    return live["id"]


def test_no_segment_link_outlives_the_segments_retention(operator, camera, settings):
    """A web process keeps recent segments in memory, and the worker's purge cannot drop that copy:
    a link listed a moment before the purge served the deleted segment's bytes. A link now expires
    when its segment may be deleted, and a segment past its retention is not listed."""
    from urllib.parse import parse_qs, urlparse

    from django.core import signing

    from apps.live import conf, playlist

    settings.RTCC_LIVE_RETENTION = timedelta(minutes=3)
    session = LiveSession.objects.get(pk=ask(operator, camera)["id"])
    now = timezone.now()
    ages = {0: timedelta(minutes=3, seconds=1), 1: timedelta(minutes=2, seconds=50), 2: timedelta(seconds=1)}
    segments = [
        LiveSegment(session=session, name=f"{n}.m4s", sequence=n, duration=1.0, stored_at=now - age)
        for n, age in ages.items()
    ]
    text = playlist.render(session=session, has_init=False, segments=segments, base_url="http://x", user_id=operator.pk)
    _, urls = playlist_urls(text)
    names = [u.split("?")[0].rsplit("/", 1)[1] for u in urls]
    assert names == ["1.m4s", "2.m4s"]  # 0.m4s may be deleted any moment: not listed
    expiry = {
        name: signing.loads(parse_qs(urlparse(url).query)["token"][0], salt=playlist.SEGMENT_SALT)["x"]
        for name, url in zip(names, urls, strict=True)
    }
    assert expiry["1.m4s"] <= (now + timedelta(seconds=10)).timestamp()  # expires with its segment
    assert expiry["2.m4s"] >= (now + timedelta(seconds=conf.link_seconds())).timestamp() - 1  # a whole lifetime


def test_segments_the_store_refuses_to_delete_stay_listed_until_it_does(
    operator, camera, settings, store_fails, either_store
):
    bucket, root = settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR
    settings.RTCC_LIVE_RETENTION = timedelta(minutes=3)
    live = ask(operator, camera)
    cam = api_client(token=camera.token)
    put_segment(cam, live["id"], "init.mp4", INIT)
    put_segment(cam, live["id"], "0.m4s", media(0))
    LiveSegment.objects.update(stored_at=timezone.now() - timedelta(minutes=4))
    store_fails(s3=either_store.name == "s3")
    assert services.segments_purge() == 0
    assert sorted(LiveSegment.objects.values_list("name", flat=True)) == ["0.m4s", "init.mp4"]
    settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR = bucket, root  # the store answers again
    assert get_storage().exists(f"live/{live['id']}/0.m4s")
    assert services.segments_purge() == 1  # the session is open: its init segment stays
    assert list(LiveSegment.objects.values_list("name", flat=True)) == ["init.mp4"]
    assert not get_storage().exists(f"live/{live['id']}/0.m4s")


def test_segments_are_deleted_after_the_retention_on_disk(operator, camera, settings):
    _segments_purged(operator, camera, settings)


def test_segments_are_deleted_after_the_retention_in_s3(s3, operator, camera, settings):
    assert get_storage().name == "s3"
    _segments_purged(operator, camera, settings)


def test_segments_leave_no_version_behind_on_a_versioned_bucket(lock_store, operator, camera, settings):
    """On an Object Lock bucket a plain delete keeps the bytes as an older version: a purged
    segment is deleted version by version (the live copy is not evidence; the recorded clip is)."""
    live_id = _segments_purged(operator, camera, settings)
    listed = lock_store.client.list_object_versions(Bucket=lock_store.bucket, Prefix=f"live/{live_id}/")
    names = {v["Key"].rsplit("/", 1)[1] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])}
    assert names == set()  # every segment purged in the end, init included: no version left


def test_an_officers_notice_lost_with_a_worker_that_died_sending_it_is_sent_by_the_sweep(
    fcm, redis_url, tmp_path, operator, camera, officer_phone
):
    """A worker killed (SIGKILL) while FCM had not yet answered the officer's notice: the sweep
    sends it once its sender's lease has run out, and only then (it was marked told before it was
    sent, and never sent at all)."""
    import os
    import signal

    import httpx
    from django.db.models import F

    from apps.live.models import LiveViewer
    from rtcc.celery import app
    from tests.helpers import start_worker, wait_for

    _, phone_token = officer_phone
    live = ask(operator, camera)
    httpx.post(f"{fcm}/_faults", json={"latency_ms": 8000}, timeout=5).raise_for_status()
    worker = start_worker(log=tmp_path / "worker.log", pool="solo", concurrency=1).settle(1)
    try:
        app.conf.task_always_eager = False
        try:
            assert api_client(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
        finally:
            app.conf.task_always_eager = True
        viewer = LiveViewer.objects.get(session_id=live["id"], user=operator)
        taken = wait_for(lambda: LiveViewer.objects.get(pk=viewer.pk), lambda v: v.officer_notice_lease is not None)
        assert taken.officer_notice_lease is not None, worker.log_tail()
        os.killpg(worker.process.pid, signal.SIGKILL)  # mid-send: FCM answers only after 8 s
        worker.process.wait(timeout=15)
    finally:
        worker.stop()
    httpx.post(f"{fcm}/_faults", json={"latency_ms": 0}, timeout=5).raise_for_status()
    assert pushed(phone_token) == []

    held = timezone.now() + timedelta(seconds=services.NOTICE_OWED_AFTER_S + 1)
    assert services.live_sweep(now=held)["notices_owed"] == 0  # its sender may still be sending
    # The lease runs out: the row's times moved back past it, as if that time had passed (the
    # task the sweep queues reads the clock itself).
    gone = timedelta(seconds=services.NOTICE_LEASE_S + 1)
    LiveViewer.objects.filter(pk=viewer.pk).update(
        first_viewed_at=F("first_viewed_at") - gone, officer_notice_lease=F("officer_notice_lease") - gone
    )
    assert services.live_sweep()["notices_owed"] == 1
    assert [m["data"]["viewer"] for m in pushed(phone_token)] == [str(operator.pk)]
    assert LiveViewer.objects.get(pk=viewer.pk).officer_told_at is not None
    assert services.live_sweep(now=timezone.now() + timedelta(minutes=5))["notices_owed"] == 0
