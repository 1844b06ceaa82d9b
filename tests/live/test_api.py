"""Live sessions over the API: who may ask, every 409, renewal, segments, playlists, links, stop."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.devices.models import Device
from apps.live import services
from apps.live.models import LiveSegment, LiveSession
from tests.conftest import ROLES
from tests.helpers import ViewStandIn, api_client, asgi_request, error_code, on_a_loop
from tests.live.conftest import INIT, mark_recording, media, playlist_urls, put_segment, request_live

pytestmark = pytest.mark.django_db(transaction=True)  # console events and pushes go out after commit

SESSION_KEYS = {
    "id",
    "device",
    "officer",
    "state",
    "reason",
    "requested_by",
    "created_at",
    "started_at",
    "ended_at",
    "playlist_url",
    "viewers",
}


def cam_client(camera):
    return api_client(token=camera.token)


def open_live(client_for, operator, camera) -> dict:
    response = request_live(client_for(operator), camera.id)
    assert response.status_code == 201, response.content
    return response.json()


# Asking -----------------------------------------------------------------------------------------


def test_an_operator_opens_a_live_session_with_a_reason(client_for, operator, officer, camera):
    body = open_live(client_for, operator, camera)
    assert set(body) >= SESSION_KEYS
    assert body["device"] == camera.id
    assert body["officer"] == str(officer.pk)
    assert body["state"] == "requested"
    assert body["reason"] == "Shots fired call, 5th and Main"
    assert body["requested_by"] == str(operator.pk)
    assert body["started_at"] is None and body["ended_at"] is None
    assert body["viewers"] == []
    assert body["playlist_url"] == f"http://testserver/api/v1/live/{body['id']}/playlist.m3u8"
    event = AuditEvent.objects.get(action="live.request", object_id=body["id"])
    assert event.actor_id == str(operator.pk) and event.details["reason"] == body["reason"]


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": None}, []])
def test_a_reason_is_required(client_for, operator, camera, body):
    response = client_for(operator).post(f"/api/v1/devices/{camera.id}/live", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == ("malformed_request" if body == [] else "invalid")  # a body is an object
    assert LiveSession.objects.count() == 0


@pytest.mark.parametrize("role", [r for r in ROLES if r != "operator"] + ["superuser"])
def test_only_operators_may_watch(client_for, personas, superuser, camera, role):
    user = superuser if role == "superuser" else personas[role]
    client = client_for(user)
    assert request_live(client, camera.id).status_code == 403
    assert client.get("/api/v1/live").status_code == 403
    assert LiveSession.objects.count() == 0


def test_roles_cannot_read_an_open_session_or_its_playlist(client_for, personas, operator, camera):
    live = open_live(client_for, operator, camera)
    for role in ("officer", "clerk", "it"):
        client = client_for(personas[role])
        for path in ("", "/playlist.m3u8"):
            assert client.get(f"/api/v1/live/{live['id']}{path}").status_code == 403, (role, path)
        assert client.post(f"/api/v1/live/{live['id']}/stop").status_code == 403
    assert api_client().get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 401
    assert LiveSession.objects.get().state == "requested"


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("revoked", "device_revoked"),
        ("offline", "device_offline"),
        ("not_recording", "device_not_recording"),
        ("stale", "device_offline"),
    ],
)
def test_refused_with_409_for_a_revoked_offline_or_idle_camera(client_for, operator, camera, setup, code):
    if setup == "revoked":
        Device.objects.filter(pk=camera.id).update(revoked_at=timezone.now())
    elif setup == "offline":
        mark_recording(camera, online=False)
    elif setup == "not_recording":
        mark_recording(camera, recording=False)
    else:  # connected once, but no sign of life for longer than the presence timeout
        Device.objects.filter(pk=camera.id).update(last_seen=timezone.now() - timedelta(hours=1))
    response = request_live(client_for(operator), camera.id)
    assert response.status_code == 409
    assert error_code(response) == code
    assert LiveSession.objects.count() == 0


def test_unknown_device_is_404(client_for, operator):
    response = request_live(client_for(operator), "8d3c6f0e-0000-4000-8000-000000000000")
    assert response.status_code == 404


def test_asking_again_returns_the_open_session_and_renews_it(client_for, operator, make_user, camera):
    first = open_live(client_for, operator, camera)
    LiveSession.objects.filter(pk=first["id"]).update(expires_at=timezone.now() + timedelta(seconds=5))
    again = request_live(client_for(make_user("operator")), camera.id, reason="Still needed")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    session = LiveSession.objects.get()
    assert session.expires_at > timezone.now() + timedelta(seconds=800)
    assert AuditEvent.objects.filter(action="live.renew", object_id=first["id"]).count() == 1


def test_a_session_stopped_as_another_operator_asks_again_opens_a_new_one(
    client_for, operator, make_user, camera, monkeypatch
):
    """The stop commits between the request's read of the open session and its renewal: the
    renewal found nothing open and answered the ended session (200, `ended`), opening nothing."""
    first = open_live(client_for, operator, camera)
    found_open = services.live_end_if_due

    def stopped_meanwhile(*, session):
        found = found_open(session=session)
        services.live_end(session_id=session.pk, end_reason="stopped", actor=operator)
        return found

    monkeypatch.setattr(services, "live_end_if_due", stopped_meanwhile)
    again = request_live(client_for(make_user("operator")), camera.id, reason="Still needed")
    monkeypatch.undo()
    assert again.status_code == 201, again.content
    assert again.json()["id"] != first["id"] and again.json()["state"] == "requested"
    assert LiveSession.objects.get(pk=first["id"]).state == "ended"
    assert not AuditEvent.objects.filter(action="live.renew").exists()
    assert AuditEvent.objects.filter(action="live.request", object_id=again.json()["id"]).count() == 1


def test_a_session_past_its_time_limit_ends_and_a_new_request_opens_another(client_for, operator, camera):
    first = open_live(client_for, operator, camera)
    LiveSession.objects.filter(pk=first["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    body = client_for(operator).get(f"/api/v1/live/{first['id']}").json()
    assert body["state"] == "ended" and body["end_reason"] == "time_limit"
    second = request_live(client_for(operator), camera.id)
    assert second.status_code == 201 and second.json()["id"] != first["id"]


@pytest.mark.parametrize("listing", ["/api/v1/live", "/api/v1/devices/{device}/live"])
def test_no_list_shows_a_session_open_past_its_time_limit(client_for, operator, camera, listing):
    """Between two sweeps too: a list reads the session as ended the moment its time is up."""
    live = open_live(client_for, operator, camera)
    url = listing.format(device=camera.id)
    by_state = f"/api/v1/live?state={live['state']}"
    assert [row["id"] for row in client_for(operator).get(by_state).json()["results"]] == [live["id"]]
    LiveSession.objects.filter(pk=live["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    rows = client_for(operator).get(url).json()["results"]
    assert [(row["id"], row["state"], row["end_reason"]) for row in rows] == [(live["id"], "ended", "time_limit")]
    assert client_for(operator).get(by_state).json()["results"] == []
    assert AuditEvent.objects.filter(action="live.end", object_id=live["id"]).count() == 1


def test_the_sweep_ends_sessions_past_their_limit(client_for, operator, camera, settings):
    settings.RTCC_LIVE_MAX_SECONDS = 1
    live = open_live(client_for, operator, camera)
    assert services.live_sweep(now=timezone.now() + timedelta(seconds=2))["timed_out"] == 1
    assert LiveSession.objects.get(pk=live["id"]).state == "ended"


def test_the_sweep_ends_sessions_of_cameras_that_went_away_unheard(client_for, operator, camera):
    live = open_live(client_for, operator, camera)
    mark_recording(camera, online=False)
    assert services.live_sweep()["orphaned"] == 1
    session = LiveSession.objects.get(pk=live["id"])
    assert (session.state, session.end_reason) == ("ended", "disconnected")


def test_revoking_the_camera_ends_its_live_session_as_revoked(client_for, operator, it_user, camera):
    live = open_live(client_for, operator, camera)
    assert client_for(it_user).post(f"/api/v1/devices/{camera.id}/revoke").status_code == 200
    session = LiveSession.objects.get(pk=live["id"])
    assert (session.state, session.end_reason) == ("ended", "revoked")
    assert client_for(operator).get(f"/api/v1/live/{live['id']}").json()["end_reason"] == "revoked"


# Segments ---------------------------------------------------------------------------------------


def test_segments_are_stored_once_and_the_first_media_segment_makes_it_live(client_for, operator, camera):
    live = open_live(client_for, operator, camera)
    cam = cam_client(camera)
    assert put_segment(cam, live["id"], "init.mp4", INIT).status_code == 201
    assert put_segment(cam, live["id"], "init.mp4", b"something else").status_code == 200
    assert LiveSession.objects.get().state == "requested"
    first = put_segment(cam, live["id"], "0.m4s", media(0), duration="1.001")
    assert first.status_code == 201
    assert first.json()["sequence"] == 0 and first.json()["size"] == 2048
    again = put_segment(cam, live["id"], "0.m4s", media(0, 99), duration="1.001")
    assert again.status_code == 200 and again.json()["size"] == 2048
    session = LiveSession.objects.get()
    assert session.state == "live" and session.started_at is not None
    assert LiveSegment.objects.filter(session=session).count() == 2
    assert services.segment_bytes(session_id=session.pk, name="init.mp4") == INIT
    assert AuditEvent.objects.filter(action="live.start", object_id=live["id"]).count() == 1


def test_a_segment_over_8_mib_is_413_and_not_stored(client_for, operator, camera):
    live = open_live(client_for, operator, camera)
    response = put_segment(cam_client(camera), live["id"], "0.m4s", b"\0" * (8 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert error_code(response)
    exactly = put_segment(cam_client(camera), live["id"], "1.m4s", b"\0" * (8 * 1024 * 1024))
    assert exactly.status_code == 201
    assert list(LiveSegment.objects.values_list("name", flat=True)) == ["1.m4s"]


@pytest.mark.parametrize("name", ["init.mp4", "0.m4s"])
def test_an_empty_segment_is_400_stored_nowhere_and_starts_nothing(client_for, operator, camera, name):
    live = open_live(client_for, operator, camera)
    response = put_segment(cam_client(camera), live["id"], name, b"")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert not LiveSegment.objects.exists()
    assert LiveSession.objects.get().state == "requested"


@pytest.mark.parametrize(
    ("name", "duration"),
    [
        ("0.m4s", None),
        ("0.m4s", "fast"),
        ("0.m4s", "0"),
        ("0.m4s", "-1"),
        ("0.m4s", "1e3"),
        ("00.m4s", "1"),
        ("x.m4s", "1"),
        ("1.mp4", "1"),
        ("init.m4s", "1"),
        ("-1.m4s", "1"),
        ("0.m4s%0A", "1"),  # a newline after the name: a 500 ("$" matches before it)
        ("999999999.m4s", "1"),  # a counter gone wrong: listed as the newest, it froze the playlist
        ("init.mp4%0A", "1"),
    ],
)
def test_bad_segment_names_and_durations_are_400(client_for, operator, camera, name, duration):
    live = open_live(client_for, operator, camera)
    response = put_segment(cam_client(camera), live["id"], name, media(0), duration=duration)
    assert response.status_code == 400, response.content
    assert LiveSegment.objects.count() == 0


def test_only_the_sessions_camera_may_put_segments(client_for, operator, camera, make_device):
    live = open_live(client_for, operator, camera)
    other = make_device(kind="bodycam")
    assert put_segment(cam_client(other), live["id"], "0.m4s", media(0)).status_code == 404
    assert put_segment(client_for(operator), live["id"], "0.m4s", media(0)).status_code == 403
    assert put_segment(api_client(), live["id"], "0.m4s", media(0)).status_code == 401
    assert LiveSegment.objects.count() == 0


def test_segments_after_the_end_are_409_but_a_repeat_is_still_200(client_for, operator, camera):
    live = open_live(client_for, operator, camera)
    cam = cam_client(camera)
    put_segment(cam, live["id"], "0.m4s", media(0))
    assert client_for(operator).post(f"/api/v1/live/{live['id']}/stop").json()["state"] == "ended"
    late = put_segment(cam, live["id"], "1.m4s", media(1))
    assert late.status_code == 409 and error_code(late) == "live_ended"
    assert put_segment(cam, live["id"], "0.m4s", media(0)).status_code == 200


@pytest.mark.parametrize("backend", [pytest.param("s3", marks=pytest.mark.services), "disk"])
def test_a_store_that_fails_answers_503_stores_nothing_and_the_same_segment_later_is_201(
    client_for, operator, camera, settings, store_fails, backend, request
):
    if backend == "s3":
        request.getfixturevalue("s3")
    live = open_live(client_for, operator, camera)
    working = (settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR)
    store_fails(s3=backend == "s3")
    cam = cam_client(camera)
    refused = put_segment(cam, live["id"], "0.m4s", media(0))
    assert refused.status_code == 503, refused.content
    assert error_code(refused) == "storage_unavailable"
    assert int(refused["Retry-After"]) >= 1 and refused.json()["error"]["retry_after"] >= 1
    assert LiveSegment.objects.count() == 0 and LiveSession.objects.get().state == "requested"
    settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR = working
    again = put_segment(cam, live["id"], "0.m4s", media(0))
    assert again.status_code == 201 and LiveSession.objects.get().state == "live"


@pytest.mark.parametrize("backend", [pytest.param("s3", marks=pytest.mark.services), "disk"])
def test_a_segment_the_store_cannot_give_back_is_503_for_the_viewer(
    client_for, operator, camera, settings, store_fails, backend, request
):
    if backend == "s3":
        request.getfixturevalue("s3")
    settings.RTCC_LIVE_CACHE_BYTES = 0  # no copy in this process's memory
    live = open_live(client_for, operator, camera)
    big = media(0, 2 * 1024 * 1024 + 1)  # larger than what Redis keeps a copy of: read from the store
    assert put_segment(cam_client(camera), live["id"], "0.m4s", big).status_code == 201
    _, urls = playlist_urls(client_for(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode())
    assert api_client().get(urls[0]).content == big
    store_fails(s3=backend == "s3")
    response = api_client().get(urls[0])
    assert response.status_code == 503 and error_code(response) == "storage_unavailable"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize("backend", [pytest.param("s3", marks=pytest.mark.services), "disk"])
def test_the_event_loops_answers_to_a_failing_store_are_503_with_retry_after(
    client_for, operator, camera, settings, store_fails, backend, request
):
    """The camera's PUT and the viewer's GET answered before Django say what the view says."""
    import json

    from asgiref.sync import async_to_sync

    from apps.live.fastpath import LiveFastPath

    if backend == "s3":
        request.getfixturevalue("s3")
    settings.RTCC_LIVE_CACHE_BYTES = 0
    live = open_live(client_for, operator, camera)
    big = media(0, 2 * 1024 * 1024 + 1)
    assert put_segment(cam_client(camera), live["id"], "0.m4s", big).status_code == 201
    _, urls = playlist_urls(client_for(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode())
    store_fails(s3=backend == "s3")
    path = f"/api/v1/live/{live['id']}/segments/1.m4s"
    headers = [(b"authorization", f"Bearer {camera.token}".encode()), (b"x-segment-duration", b"1.000")]
    view = ViewStandIn()
    request_ = async_to_sync(asgi_request)
    status, answer_headers, body = request_(LiveFastPath(view), "PUT", path, body=media(1), headers=headers)
    assert (status, view.bodies) == (503, [])
    assert json.loads(body)["error"]["code"] == "storage_unavailable"
    assert int(answer_headers[b"retry-after"]) == json.loads(body)["error"]["retry_after"] >= 1
    assert not LiveSegment.objects.filter(name="1.m4s").exists()
    segment_path, query = urls[0].split("?", 1)
    status, answer_headers, body = request_(
        LiveFastPath(view), "GET", segment_path.split("testserver", 1)[-1], query=query.encode()
    )
    assert (status, view.bodies) == (503, [])
    assert json.loads(body)["error"]["code"] == "storage_unavailable" and int(answer_headers[b"retry-after"]) >= 1


@pytest.mark.services
def test_a_cameras_put_on_the_event_loop_stores_records_and_lists_the_segment_once(
    client_for, operator, camera, s3, postgres_db, settings, store_fails, monkeypatch
):
    """On PostgreSQL and S3 the camera's PUT of a live session's media segment is stored from the
    event loop, with no worker thread (apps/live/fastpath.py, services.segment_store_on_loop): the
    bytes in the store byte for byte, the row, the playlist at once; the same name again goes to the
    view (which answers the stored one); a session past its time limit is ended (409); a store that
    refuses or cannot be reached is a 503 with nothing recorded."""
    import json

    from asgiref.sync import async_to_sync

    from apps.integrations.storage import get_storage
    from apps.live import fastpath
    from apps.live.models import segment_key

    live = open_live(client_for, operator, camera)
    assert put_segment(cam_client(camera), live["id"], "0.m4s", media(0)).status_code == 201  # now `live`
    body = media(1, 250_000)

    def put(*args):
        return on_a_loop((fastpath._put_on_loop, *args))[0]

    status, headers, answer = put(camera.token, live["id"], "1.m4s", body, "1.250")
    assert status == 201, answer
    assert json.loads(answer) | {"stored_at": None} == {
        "name": "1.m4s",
        "sequence": 1,
        "duration": 1.25,
        "size": 250_000,
        "stored_at": None,
    }
    assert b"".join(get_storage().iter_bytes(segment_key(live["id"], "1.m4s"))) == body
    segment = LiveSegment.objects.get(session_id=live["id"], name="1.m4s")
    assert (segment.sequence, segment.duration, segment.size) == (1, 1.25, 250_000)
    _, urls = playlist_urls(client_for(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode())
    assert [url.split("?")[0].rsplit("/", 1)[1] for url in urls] == ["0.m4s", "1.m4s"]
    assert client_for(operator).get(urls[-1].split("testserver", 1)[1]).getvalue() == body

    # The same name again: the view answers (it answers the stored segment), nothing is stored again.
    view = ViewStandIn()
    path = f"/api/v1/live/{live['id']}/segments/1.m4s"
    auth = [(b"authorization", f"Bearer {camera.token}".encode()), (b"x-segment-duration", b"1.000")]
    monkeypatch.setattr(fastpath, "_store_opened", True)
    request_ = async_to_sync(asgi_request)
    assert request_(fastpath.LiveFastPath(view), "PUT", path, body=media(9), headers=auth)[0] == 299
    assert view.bodies == [media(9)]
    assert b"".join(get_storage().iter_bytes(segment_key(live["id"], "1.m4s"))) == body
    # A bad duration is a 400 before anything is stored.
    status, _, answer = put(camera.token, live["id"], "2.m4s", media(2), "soon")
    assert status == 400 and json.loads(answer)["error"]["code"] == "invalid"
    # The store refuses (403), then cannot be reached at all: 503, nothing recorded, the view not reached.
    store_fails(s3=True)
    for _ in range(2):
        status, headers, answer = request_(
            fastpath.LiveFastPath(view), "PUT", path.replace("1.m4s", "2.m4s"), body=media(2), headers=auth
        )
        assert status == 503 and json.loads(answer)["error"]["code"] == "storage_unavailable"
        assert int(headers[b"retry-after"]) >= 1
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
        settings.RTCC_S3_BUCKET = "rtcc-unreachable"
    assert view.bodies == [media(9)]
    assert not LiveSegment.objects.filter(session_id=live["id"], name="2.m4s").exists()
    # Past its time limit: the session is ended (by the thread's path) and the segment refused.
    settings.RTCC_S3_BUCKET = s3.bucket
    LiveSession.objects.filter(pk=live["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    status, _, answer = request_(
        fastpath.LiveFastPath(view), "PUT", path.replace("1.m4s", "3.m4s"), body=media(3), headers=auth
    )
    assert status == 409 and json.loads(answer)["error"]["code"] == "live_ended"
    assert LiveSession.objects.get(pk=live["id"]).end_reason == "time_limit"
    assert not LiveSegment.objects.filter(session_id=live["id"], name="3.m4s").exists()


@pytest.mark.services
def test_a_request_the_fast_path_would_read_otherwise_than_the_view_goes_to_the_view(
    client_for, operator, camera, s3, postgres_db
):
    """A header given twice (Django joins the values: two tokens are a 401), a parameter given
    twice or one the view refuses, an Accept the view negotiates: the event loop's answers took
    the last header (a segment stored for a camera's second token, a playlist served for an
    operator's second token) and ignored the query and Accept, where the view refuses them."""
    from asgiref.sync import async_to_sync

    from apps.accounts.services import token_issue
    from apps.live.fastpath import LiveFastPath

    live = open_live(client_for, operator, camera)
    assert put_segment(cam_client(camera), live["id"], "0.m4s", media(0)).status_code == 201
    playlist = f"/api/v1/live/{live['id']}/playlist.m3u8"
    _, urls = playlist_urls(client_for(operator).get(playlist).content.decode())
    segment, query = urls[0].split("testserver", 1)[1].split("?", 1)
    operator_auth = (b"authorization", f"Bearer {token_issue(user=operator)[0]}".encode())
    view = ViewStandIn()
    request_ = async_to_sync(asgi_request)
    fast = LiveFastPath(view)
    # the ordinary requests: answered on the loop
    assert request_(fast, "GET", segment, query=query.encode())[0] == 200
    assert request_(fast, "GET", playlist, headers=[operator_auth])[0] == 200
    assert view.bodies == []
    put = f"/api/v1/live/{live['id']}/segments/1.m4s"
    camera_put = [(b"authorization", f"Bearer {camera.token}".encode()), (b"x-segment-duration", b"1.000")]
    cases = [
        ("GET", segment, f"{query}&token=forged", []),
        ("GET", segment, f"{query}&x=1", []),
        ("GET", playlist, "format=xml", [operator_auth]),
        ("GET", playlist, "", [operator_auth, (b"accept", b"text/html")]),
        ("GET", playlist, "", [(b"authorization", b"Bearer rtu_not-a-token"), operator_auth]),
        ("PUT", put, "", [(b"authorization", b"Bearer rtd_not-a-token"), *camera_put]),
    ]
    for method, path, params, headers in cases:
        body = media(1) if method == "PUT" else b""
        status = request_(fast, method, path, query=params.encode(), headers=headers, body=body)[0]
        assert status == 299, (method, path, params, headers)
    assert not LiveSegment.objects.filter(name="1.m4s").exists()


# Playlist and links -----------------------------------------------------------------------------


def test_a_segment_numbered_beyond_what_the_session_could_reach_is_refused(client_for, operator, camera):
    live = open_live(client_for, operator, camera)
    cam = cam_client(camera)
    assert put_segment(cam, live["id"], "1000.m4s", media(0)).status_code == 201  # a margin from the start
    refused = put_segment(cam, live["id"], "1700.m4s", media(1))
    assert refused.status_code == 400 and error_code(refused) == "invalid_segment_name"
    # a minute on, ten segments a second could have reached it
    LiveSession.objects.filter(pk=live["id"]).update(created_at=timezone.now() - timedelta(seconds=80))
    assert put_segment(cam, live["id"], "1700.m4s", media(1)).status_code == 201
    _, urls = playlist_urls(client_for(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode())
    assert urls[-1].split("?")[0].endswith("/1700.m4s")


def test_the_playlist_lists_the_init_segment_and_the_latest_segments_in_order(client_for, operator, camera, settings):
    settings.RTCC_LIVE_PLAYLIST_SEGMENTS = 3
    live = open_live(client_for, operator, camera)
    cam = cam_client(camera)
    put_segment(cam, live["id"], "init.mp4", INIT)
    for sequence in (0, 1, 3, 2, 4):  # one arrives late: the playlist still lists them in order
        assert put_segment(cam, live["id"], f"{sequence}.m4s", media(sequence), duration="1.500").status_code == 201
    client = client_for(operator)
    response = client.get(f"/api/v1/live/{live['id']}/playlist.m3u8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    text = response.content.decode()
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert "#EXT-X-MEDIA-SEQUENCE:2" in lines
    assert "#EXT-X-TARGETDURATION:2" in lines
    assert lines.count("#EXTINF:1.500,") == 3
    assert "#EXT-X-ENDLIST" not in lines
    init_url, urls = playlist_urls(text)
    assert init_url.startswith(f"http://testserver/api/v1/live/{live['id']}/segments/init.mp4?token=")
    assert [url.split("?")[0].rsplit("/", 1)[1] for url in urls] == ["2.m4s", "3.m4s", "4.m4s"]
    anonymous = api_client()
    assert anonymous.get(init_url).content == INIT
    for sequence, url in zip((2, 3, 4), urls, strict=True):
        fetched = anonymous.get(url)
        assert fetched.status_code == 200
        assert fetched.content == media(sequence)
    client.post(f"/api/v1/live/{live['id']}/stop")
    ended = client.get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode()
    assert ended.rstrip().endswith("#EXT-X-ENDLIST")


def test_a_late_segment_never_moves_the_media_sequence_back(client_for, operator, camera):
    """A camera's segment 1 arrives after 2 and 3 were listed (a retried upload): a player that has
    2 and 3 must never be told that sequence number 0 or 1 names them."""
    live = open_live(client_for, operator, camera)
    cam = cam_client(camera)
    put_segment(cam, live["id"], "init.mp4", INIT)
    for sequence in (0, 2, 3):
        assert put_segment(cam, live["id"], f"{sequence}.m4s", media(sequence)).status_code == 201
    client = client_for(operator)
    first = client.get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode()
    assert "#EXT-X-MEDIA-SEQUENCE:2" in first.splitlines()
    assert put_segment(cam, live["id"], "1.m4s", media(1)).status_code == 201  # stored, as the contract says
    assert put_segment(cam, live["id"], "4.m4s", media(4)).status_code == 201
    for _ in range(2):  # the first poll and the next alike
        later = client.get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode()
        assert "#EXT-X-MEDIA-SEQUENCE:2" in later.splitlines()
        _, urls = playlist_urls(later)
        assert [url.split("?")[0].rsplit("/", 1)[1] for url in urls] == ["2.m4s", "3.m4s", "4.m4s"]


def test_program_dates_never_go_back_when_a_camera_catches_up(client_for, operator, camera):
    """Segments sent in a burst (a camera catching up after a lost link) are stored well under
    their durations apart: each still begins where the one before it ended, never earlier."""
    live = open_live(client_for, operator, camera)
    cam = cam_client(camera)
    put_segment(cam, live["id"], "init.mp4", INIT)
    for sequence, duration in enumerate(("1.500", "2.000", "2.000", "1.000")):
        assert put_segment(cam, live["id"], f"{sequence}.m4s", media(sequence), duration=duration).status_code == 201
    text = client_for(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode()
    starts = [
        datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00"))
        for line in text.splitlines()
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:")
    ]
    assert len(starts) == 4
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
    assert gaps == pytest.approx([1.5, 2.0, 2.0], abs=0.002)


def test_segment_links_serve_only_the_viewer_who_read_the_playlist(client_for, operator, make_user, camera):
    live = open_live(client_for, operator, camera)
    put_segment(cam_client(camera), live["id"], "0.m4s", media(0))
    _, urls = playlist_urls(client_for(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode())
    url = urls[0]
    assert api_client().get(url).status_code == 200  # no header: the link is the credential
    assert client_for(operator).get(url).status_code == 200  # the same viewer's own credentials
    other = client_for(make_user("operator"))
    denied = other.get(url)
    assert denied.status_code == 403 and error_code(denied) == "not_your_link"
    assert api_client(token=camera.token).get(url).status_code == 403
    base, token = url.split("?token=")
    assert api_client().get(base).status_code == 403
    assert api_client().get(f"{base}?token={token[:-2]}xx").status_code == 403
    assert api_client().get(url.replace("/0.m4s?", "/1.m4s?")).status_code == 403  # named for another segment
    from apps.live.playlist import segment_token

    expired = segment_token(session_id=live["id"], name="0.m4s", user_id=operator.pk, expires_in=-1)
    assert api_client().get(f"{base}?token={expired}").status_code == 403


def test_a_segment_link_lives_its_lifetime_up_to_a_quarter_more_and_is_signed_once_per_quarter(settings):
    import time

    from apps.live.playlist import read_segment_token, segment_token

    settings.RTCC_LIVE_LINK_SECONDS = 60
    args = {"session_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "name": "3.m4s", "user_id": 7}
    token = segment_token(**args)
    assert segment_token(**args) == token  # the next poll lists the same link
    from django.core import signing

    expires = signing.loads(token, salt="rtcc.live.segment")["x"]
    assert 60 <= expires - time.time() <= 76
    assert read_segment_token(token) == {"session": args["session_id"], "name": "3.m4s", "user": "7"}
    assert segment_token(**{**args, "user_id": 8}) != token  # each viewer their own


def test_a_repeat_viewer_skips_the_api_view_and_is_still_recorded_as_watching(client_for, operator, camera):
    """The playlist's fast path (apps/live/fastpath.py) answers a viewer this process recorded;
    every VIEWER_TOUCH_SECONDS it refreshes their last_viewed_at itself, with no second audit.
    (Their first look it records itself, or the API view does where no index is kept.)"""
    from datetime import timedelta

    from apps.accounts.services import token_issue
    from apps.live import fastpath
    from apps.live.models import LiveViewer

    live = open_live(client_for, operator, camera)
    token, _ = token_issue(user=operator)
    services._touched.clear()
    if fastpath._playlist(token, live["id"], "http://testserver") is None:  # the embedded default: no index
        assert not LiveViewer.objects.filter(session_id=live["id"]).exists()
        assert client_for(operator).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    long_ago = timezone.now() - timedelta(minutes=5)
    LiveViewer.objects.filter(session_id=live["id"]).update(last_viewed_at=long_ago)
    key = (live["id"], str(operator.pk))
    services._touched[key] -= services.VIEWER_TOUCH_SECONDS + 1
    fastpath._playlist(token, live["id"], "http://testserver")  # (None on the embedded default: no index)
    assert LiveViewer.objects.get(session_id=live["id"]).last_viewed_at > long_ago
    assert AuditEvent.objects.filter(action="live.view", object_id=live["id"]).count() == 1


@pytest.mark.parametrize("index_apart", [False, True], ids=["index-beside-tokens", "index-in-another-redis"])
def test_a_repeat_playlist_read_on_the_event_loop_lists_what_the_view_lists(
    client_for, operator, camera, settings, index_apart
):
    """The token generation and the index read in one Redis round trip (or two, when the index
    lives elsewhere): the same playlist as the API view, and nothing for an unknown token."""

    from apps.accounts.services import token_issue
    from apps.live import fastpath

    if index_apart and settings.ENV.redis_url:
        settings.RTCC_LIVE_INDEX_REDIS_URL = settings.ENV.redis_url + "?client_name=live-index"
    live = open_live(client_for, operator, camera)
    cam = cam_client(camera)
    put_segment(cam, live["id"], "init.mp4", INIT)
    put_segment(cam, live["id"], "0.m4s", media(0))
    token, _ = token_issue(user=operator)
    viewed = api_client(token=token).get(f"/api/v1/live/{live['id']}/playlist.m3u8")
    assert viewed.status_code == 200
    answer, unknown = on_a_loop(
        (fastpath._playlist_async, token, live["id"], "http://testserver"),
        (fastpath._playlist_async, token + "x", live["id"], "http://testserver"),
    )
    assert unknown is None
    if not settings.ENV.redis_url:
        assert answer is None  # the embedded default has no index: the API view answers
        return
    status, _headers, body = answer
    assert status == 200

    def strip(text):
        return [line.split("?")[0] for line in text.splitlines() if not line.startswith("#EXT-X-PROGRAM")]

    assert strip(body.decode()) == strip(viewed.content.decode())
    assert [line.rsplit("/", 1)[1] for line in strip(body.decode()) if "/segments/" in line] == ["init.mp4", "0.m4s"]


def test_each_persons_first_look_is_audited_once_and_listed(client_for, operator, make_user, camera):
    live = open_live(client_for, operator, camera)
    second = make_user("operator", full_name="Dana Watcher")
    for user in (operator, operator, second, operator):
        services._touched.clear()  # as if each read came through another process
        assert client_for(user).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    views = AuditEvent.objects.filter(action="live.view", object_id=live["id"]).order_by("seq")
    assert [event.actor_id for event in views] == [str(operator.pk), str(second.pk)]
    assert views[0].details["reason"] == "Shots fired call, 5th and Main"
    body = client_for(operator).get(f"/api/v1/live/{live['id']}").json()
    assert [viewer["user"] for viewer in body["viewers"]] == [str(operator.pk), str(second.pk)]
    assert body["viewers"][1]["full_name"] == "Dana Watcher"


def test_lists_filter_by_state_and_device(client_for, operator, camera, make_device):
    live = open_live(client_for, operator, camera)
    other = make_device(kind="bodycam")
    mark_recording(other)
    other_live = open_live(client_for, operator, other)
    client = client_for(operator)
    client.post(f"/api/v1/live/{other_live['id']}/stop")
    put_segment(cam_client(camera), live["id"], "0.m4s", media(0))
    assert [s["id"] for s in client.get("/api/v1/live?state=live").json()["results"]] == [live["id"]]
    assert [s["id"] for s in client.get("/api/v1/live?state=ended").json()["results"]] == [other_live["id"]]
    assert client.get("/api/v1/live").json()["count"] == 2
    assert [s["id"] for s in client.get(f"/api/v1/devices/{other.id}/live").json()["results"]] == [other_live["id"]]
    assert client.get("/api/v1/live?state=watching").status_code == 400
    assert client.get("/api/v1/live?device=nope").status_code == 400
    assert client.get("/api/v1/live/8d3c6f0e-0000-4000-8000-000000000000").status_code == 404


def test_stop_ends_the_session_and_stopping_again_changes_nothing(client_for, operator, camera):
    live = open_live(client_for, operator, camera)
    client = client_for(operator)
    response = client.post(f"/api/v1/live/{live['id']}/stop")
    assert response.status_code == 200
    assert response.json()["state"] == "ended"
    assert response.json()["end_reason"] == "stopped"
    ended_at = response.json()["ended_at"]
    assert client.post(f"/api/v1/live/{live['id']}/stop").json()["ended_at"] == ended_at
    assert AuditEvent.objects.filter(action="live.end", object_id=live["id"]).count() == 1


def test_the_target_duration_never_goes_down_and_covers_every_listed_segment(client_for, operator, camera, settings):
    """A player times its reloads by EXT-X-TARGETDURATION, which RFC 8216 lets no playlist
    change: one long segment raises it, and it stays raised after that segment leaves the list
    (it went 1, 10, then 1 again)."""
    settings.RTCC_LIVE_PLAYLIST_SEGMENTS = 3
    live = open_live(client_for, operator, camera)
    cam, client = cam_client(camera), client_for(operator)
    targets = []
    for sequence, duration in enumerate(["1.000", "9.500", "1.000", "1.000", "1.000", "1.000"]):
        assert put_segment(cam, live["id"], f"{sequence}.m4s", media(sequence), duration=duration).status_code == 201
        lines = client.get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode().splitlines()
        target = int(next(line for line in lines if line.startswith("#EXT-X-TARGETDURATION:")).split(":")[1])
        listed = [float(line[len("#EXTINF:") :].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]
        assert all(round(d) <= target for d in listed), (target, listed)
        targets.append(target)
    assert targets == [1, 10, 10, 10, 10, 10]  # the camera's segment length here (1 s) first, then never down


def test_the_segment_upload_is_in_the_openapi_schema(anon):
    """The start frame's upload_url is a URL of the schema: a client generated from it can PUT
    segments (with their X-Segment-Duration)."""
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/json")
    put = response.json()["paths"]["/api/v1/live/{live_id}/segments/{name}"]["put"]
    assert "video/mp4" in put["requestBody"]["content"]
    assert {"201", "200", "413"} <= set(put["responses"])
    assert any(p["name"] == "X-Segment-Duration" and p["in"] == "header" for p in put["parameters"])


@pytest.mark.services
def test_the_playlist_floor_is_shared_by_every_web_process(client_for, operator, camera, redis_url, settings):
    """The floor (and the target duration) is kept in the session's Redis copy, so a playlist
    served by another web process (which never listed the session) does not move the media
    sequence back either."""
    from apps.live import index

    live = open_live(client_for, operator, camera)
    cam = cam_client(camera)
    for sequence in (0, 2, 3):
        put_segment(cam, live["id"], f"{sequence}.m4s", media(sequence))
    client = client_for(operator)
    client.get(f"/api/v1/live/{live['id']}/playlist.m3u8")  # lists 2 and 3: the floor is 2
    index._RAISED_WRITER.submit(lambda: None).result(timeout=10)  # the Redis write has been made
    index._RAISED.clear()  # as in another process: only what Redis keeps
    snapshot = index.read(live["id"], count=10)
    assert snapshot is not None and snapshot[0].playlist == {"floor": 2, "target": 1}
    put_segment(cam, live["id"], "1.m4s", media(1))
    later = client.get(f"/api/v1/live/{live['id']}/playlist.m3u8").content.decode()
    assert "#EXT-X-MEDIA-SEQUENCE:2" in later.splitlines()
