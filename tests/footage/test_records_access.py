"""Retrieving footage: short-lived links (signed rtcc URLs with Range on disk, presigned GETs on S3),
who may ask for them, and the custody trail every access leaves."""

from __future__ import annotations

import time
from datetime import datetime
from urllib.parse import urlsplit

import httpx
import pytest

from tests.footage.records_support import *  # noqa: F403 - the records fixtures
from tests.helpers import api_client, error_code

ACCESS_STATUS = {
    "clerk": 200,
    "officer": 200,
    "other_officer": 404,
    "operator": 403,
    "it": 403,
    "superuser": 403,
    "anonymous": 401,
    "device": 403,
}


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.hostname == "testserver", url
    return parts.path


def _fetch(api, url: str, **headers):
    response = api.get(_path(url), **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


@pytest.mark.parametrize("who", list(ACCESS_STATUS))
def test_access_by_role(who, caller, make_clip, rec_disk, officer):
    clip = make_clip(officer, store=rec_disk)
    response = caller(who).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "court order 17"}, format="json")
    assert response.status_code == ACCESS_STATUS[who], response.content
    if response.status_code != 200:
        error_code(response)
        return
    body = response.json()
    assert set(body) >= {"url", "expires_at"}
    left = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")).timestamp() - time.time()
    assert 0 < left <= 5 * 60 + 1  # five minutes by default
    served, data = _fetch(api_client(), body["url"])  # the link itself is the credential
    assert served.status_code == 200 and data == clip.data


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"why": "x"}])
def test_access_needs_a_reason(body, clerk, make_clip, rec_disk):
    clip = make_clip(store=rec_disk)
    response = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", body, format="json")
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert "reason" in response.json()["error"]["fields"]


@pytest.mark.parametrize("state", ["uploading", "verifying", "corrupt", "aborted", "purged"])
def test_only_available_clips_are_retrieved(state, clerk, make_clip):
    clip = make_clip(state=state)
    response = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "review"}, format="json")
    assert response.status_code == 409 and error_code(response) == "clip_not_available"


def test_disk_link_serves_ranges_for_a_video_player(clerk, make_clip, rec_disk):
    data = bytes(range(256)) * 40  # 10,240 bytes
    clip = make_clip(data=data, store=rec_disk)
    url = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "playback"}, format="json").json()["url"]
    browser = api_client()

    whole, body = _fetch(browser, url)
    assert whole.status_code == 200 and body == data
    assert whole["Accept-Ranges"] == "bytes" and whole["Content-Length"] == str(len(data))
    assert whole["Content-Type"] == "video/mp4" and f"{clip.pk}.mp4" in whole["Content-Disposition"]

    for header, start, end in [
        ("bytes=100-199", 100, 199),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),
    ]:
        part, body = _fetch(browser, url, Range=header)
        assert part.status_code == 206, header
        assert body == data[start : end + 1]
        assert part["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
        assert part["Content-Length"] == str(end - start + 1)

    for header in ["bytes=10240-", "bytes=20000-20010", "bytes=-0"]:
        bad, _ = _fetch(browser, url, Range=header)
        assert bad.status_code == 416, header
        assert bad["Content-Range"] == f"bytes */{len(data)}"
    for header in ["bytes=500-100", "bytes=x-y", "bytes=abc", "bytes=-"]:  # not valid ranges: ignored (RFC 9110)
        whole, body = _fetch(browser, url, Range=header)
        assert whole.status_code == 200 and body == data, header

    head = browser.head(_path(url), HTTP_RANGE="bytes=0-9")
    assert head.status_code == 206 and head["Content-Length"] == "10"


def test_disk_link_expires_and_cannot_be_forged(clerk, make_clip, rec_disk, monkeypatch):
    clip = make_clip(store=rec_disk)
    url = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "x"}, format="json").json()["url"]
    browser = api_client()
    assert _fetch(browser, url)[0].status_code == 200

    path = _path(url)
    token = path.rsplit("/", 1)[1]
    forged = path[: -len(token)] + token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert browser.get(forged).status_code == 403

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 5 * 60 + 5)  # six minutes later
    expired = browser.get(path)
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "link_expired"


def test_link_stops_working_once_the_clip_is_purged(clerk, make_clip, rec_disk):
    from apps.footage.models import Clip

    clip = make_clip(store=rec_disk)
    url = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "x"}, format="json").json()["url"]
    Clip.objects.filter(pk=clip.pk).update(state="purged")
    assert api_client().get(_path(url)).status_code == 410


def test_s3_link_goes_through_rtcc_with_the_filename_and_ranges(clerk, officer, make_clip, s3):
    """On S3 too the link is rtcc's own (the bytes streamed from the store), so that it can be
    refused the moment its holder is deactivated; a presigned GET could not be called back."""
    clip = make_clip(officer, store=s3)
    for user in (clerk, officer):
        body = api_client(user).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "s3"}, format="json").json()
        assert "X-Amz-Signature" not in body["url"]
        served, data = _fetch(api_client(), body["url"])
        assert served.status_code == 200 and data == clip.data
        assert f"{clip.pk}.mp4" in served["Content-Disposition"]
        ranged, part = _fetch(api_client(), body["url"], Range="bytes=0-99")
        assert ranged.status_code == 206 and part == clip.data[:100]


@pytest.mark.parametrize("backend", ["rec_disk", pytest.param("s3", marks=pytest.mark.services)])
def test_a_link_stops_working_when_its_holder_is_deactivated(request, backend, clerk, it_user, make_clip):
    from apps.accounts.services import user_update

    clip = make_clip(store=request.getfixturevalue(backend))
    url = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "x"}, format="json").json()["url"]
    assert _fetch(api_client(), url)[0].status_code == 200
    user_update(user=clerk, actor=it_user, is_active=False)
    refused, _ = _fetch(api_client(), url)
    assert refused.status_code == 403 and error_code(refused) == "link_revoked"
    user_update(user=clerk, actor=it_user, is_active=True)  # back at work: the old link stays dead
    refused, _ = _fetch(api_client(), url)
    assert refused.status_code == 403 and error_code(refused) == "link_revoked"
    again = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "x"}, format="json").json()["url"]
    assert _fetch(api_client(), again)[0].status_code == 200


@pytest.mark.parametrize("role", ["operator", "it", "officer"])
def test_a_link_stops_working_when_its_holder_is_given_another_role(role, clerk, it_user, make_clip, rec_disk):
    """IT never sees footage and an operator never gets the bytes: a clerk moved to another role
    can no longer use the access or case-manifest links they were given as a clerk, not even once
    they are a clerk again."""
    from apps.accounts.services import user_update

    clip = make_clip(store=rec_disk, case_number="C-77")
    api = api_client(clerk)
    url = api.post(f"/api/v1/clips/{clip.pk}/access", {"reason": "x"}, format="json").json()["url"]
    manifest = api.get("/api/v1/cases/C-77/manifest", {"reason": "court"}).json()
    listed = manifest["clips"][0]["url"]
    assert _fetch(api_client(), url)[0].status_code == 200
    user_update(user=clerk, actor=it_user, role=role)
    for link in (url, listed):
        refused, _ = _fetch(api_client(), link)
        assert refused.status_code == 403 and error_code(refused) == "link_revoked"
    # The holder's id stays a key of its own: the previous release, still serving during a rolling
    # upgrade, reads it as a person's id (the role and version beside it made that a 500).
    from django.core import signing

    from apps.integrations.storage import DOWNLOAD_SALT

    assert signing.loads(url.rsplit("/", 1)[1], salt=DOWNLOAD_SALT)["a"] == str(clerk.pk)
    user_update(user=clerk, actor=it_user, role="clerk")  # a clerk again: the old links stay dead
    for link in (url, listed):
        refused, _ = _fetch(api_client(), link)
        assert refused.status_code == 403 and error_code(refused) == "link_revoked"
    assert (  # and links given now work
        _fetch(api_client(), api.post(f"/api/v1/clips/{clip.pk}/access", {"reason": "x"}, format="json").json()["url"])[
            0
        ].status_code
        == 200
    )


CUSTODY_STATUS = {
    "clerk": 200,
    "officer": 403,
    "other_officer": 403,
    "operator": 403,
    "it": 403,
    "superuser": 403,
    "anonymous": 401,
    "device": 403,
}


@pytest.mark.parametrize("who", list(CUSTODY_STATUS))
def test_custody_by_role(who, caller, make_clip, officer):
    clip = make_clip(officer)
    response = caller(who).get(f"/api/v1/clips/{clip.pk}/custody")
    assert response.status_code == CUSTODY_STATUS[who], response.content
    if response.status_code != 200:
        error_code(response)


def test_custody_lists_every_event_with_the_chain_verdict(clerk, officer, make_clip, rec_disk):
    from apps.audit.services import audit_record

    clip = make_clip(officer, store=rec_disk)
    audit_record(action="clip.declare", actor=clip.device, obj=clip, details={"sha256": clip.sha256})
    audit_record(action="clip.verify", obj=clip, details={"result": "available"})
    clerk_api = api_client(clerk)
    clerk_api.post(
        f"/api/v1/clips/{clip.pk}/access", {"reason": "subpoena 2025-9"}, format="json", REMOTE_ADDR="10.1.2.3"
    )
    api_client(officer).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "report writing"}, format="json")
    clerk_api.post(f"/api/v1/clips/{clip.pk}/hold", {"reason": "case 9"}, format="json")
    clerk_api.patch(f"/api/v1/clips/{clip.pk}", {"category": "evidence", "case_number": "9"}, format="json")

    body = clerk_api.get(f"/api/v1/clips/{clip.pk}/custody").json()
    assert set(body) >= {"count", "next", "previous", "results", "chain_intact"}
    assert body["chain_intact"] is True and body["count"] == 6
    rows = body["results"]
    assert [r["action"] for r in rows] == [
        "clip.declare",
        "clip.verify",
        "clip.access",
        "clip.access",
        "clip.hold",
        "clip.update",
    ]
    assert all(set(r) >= {"at", "actor", "action", "detail"} and r["verified"] for r in rows)
    assert rows[0]["actor"] == str(clip.device_id)
    assert rows[2]["actor"] == str(clerk.pk) and rows[2]["detail"]["reason"] == "subpoena 2025-9"
    assert rows[2]["source_ip"] == "10.1.2.3"
    assert rows[3]["actor"] == str(officer.pk) and rows[3]["detail"]["reason"] == "report writing"
    assert rows[5]["detail"]["before"]["category"] == "uncategorized"
    assert rows[5]["detail"]["after"] == {"category": "evidence", "case_number": "9", "retain_until": None}
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)

    page = clerk_api.get(f"/api/v1/clips/{clip.pk}/custody", {"page_size": 4}).json()
    assert len(page["results"]) == 4 and page["next"] and page["count"] == 6


def test_custody_shows_a_tampered_row(clerk, make_clip):
    from django.db import connection

    from apps.audit.models import AuditEvent
    from apps.audit.services import audit_record

    clip = make_clip()
    audit_record(action="clip.declare", actor=clip.device, obj=clip)
    audit_record(action="clip.access", actor=clerk, obj=clip, details={"reason": "a"})
    audit_record(action="clip.access", actor=clerk, obj=clip, details={"reason": "b"})
    victim = AuditEvent.objects.get(object_id=str(clip.pk), action="clip.access", details__reason="a")
    with connection.cursor() as cursor:  # someone edits the trail behind the application's back
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET actor_label = %s WHERE seq = %s", ["somebody-else", victim.seq]
        )
    body = api_client(clerk).get(f"/api/v1/clips/{clip.pk}/custody").json()
    assert body["chain_intact"] is False
    assert [r["verified"] for r in body["results"]] == [True, False, True]


def _delete_behind_the_apps_back(seq) -> None:
    from django.db import connection

    from apps.audit.models import AuditEvent

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq = %s", [seq])


def test_custody_says_the_chain_is_broken_when_an_access_with_no_neighbour_of_its_clip_is_deleted(clerk, make_clip):
    """The access to clip A sits between two accesses to clip B: deleting it leaves none of A's own
    events beside the gap, and the trail is still broken for A's custody (and for B's)."""
    from apps.audit.models import AuditEvent
    from apps.audit.services import audit_record

    a, b = make_clip(), make_clip()
    audit_record(action="clip.declare", actor=a.device, obj=a)
    audit_record(action="clip.access", actor=clerk, obj=b, details={"reason": "before"})
    audit_record(action="clip.access", actor=clerk, obj=a, details={"reason": "to hide"})
    audit_record(action="clip.access", actor=clerk, obj=b, details={"reason": "after"})
    clerk_api = api_client(clerk)
    assert clerk_api.get(f"/api/v1/clips/{a.pk}/custody").json()["chain_intact"] is True
    hidden = AuditEvent.objects.get(object_id=str(a.pk), action="clip.access")
    _delete_behind_the_apps_back(hidden.seq)

    body = clerk_api.get(f"/api/v1/clips/{a.pk}/custody").json()
    assert [r["action"] for r in body["results"]] == ["clip.declare"]  # the access is gone...
    assert body["chain_intact"] is False  # ...and the custody says the trail was cut
    assert clerk_api.get(f"/api/v1/clips/{b.pk}/custody").json()["chain_intact"] is False


def test_custody_says_the_chain_is_broken_when_the_newest_event_is_deleted_or_the_last_walk_failed(clerk, make_clip):
    from apps.audit.models import AuditEvent
    from apps.audit.services import audit_record

    clip, other = make_clip(), make_clip()
    audit_record(action="clip.declare", actor=clip.device, obj=clip)
    audit_record(action="clip.access", actor=clerk, obj=other, details={"reason": "newest"})
    clerk_api = api_client(clerk)
    assert clerk_api.get(f"/api/v1/clips/{clip.pk}/custody").json()["chain_intact"] is True
    _delete_behind_the_apps_back(AuditEvent.objects.get(object_id=str(other.pk), action="clip.access").seq)
    assert clerk_api.get(f"/api/v1/clips/{clip.pk}/custody").json()["chain_intact"] is False

    third = make_clip()
    audit_record(action="clip.declare", actor=third.device, obj=third)
    audit_record(action="audit.verified", outcome="failure", details={"checked": 3, "problems": ["event #2 ..."]})
    assert clerk_api.get(f"/api/v1/clips/{third.pk}/custody").json()["chain_intact"] is False


def test_a_video_player_seeks_through_daphne(transactional_db, settings, tmp_path, clerk, make_clip):
    """The disk link served by a real `daphne` process: whole, and by ranges as a <video> asks."""
    import hashlib
    import os

    from apps.integrations.storage import get_storage
    from tests.helpers import LiveServer

    settings.RTCC_S3_BUCKET = None
    settings.RTCC_STORAGE_DIR = tmp_path / "objects"
    data = os.urandom(3 * 1024 * 1024 + 17)
    clip = make_clip(data=data, store=get_storage())
    url = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "x"}, format="json").json()["url"]
    server = LiveServer(env={"RTCC_S3_BUCKET": "", "RTCC_DATA_DIR": str(tmp_path)})
    try:
        link = server.url + _path(url)
        with httpx.stream("GET", link, timeout=30) as whole:
            assert whole.status_code == 200
            digest = hashlib.sha256()
            for chunk in whole.iter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == clip.sha256
        start = len(data) - 1000
        part = httpx.get(link, headers={"Range": f"bytes={start}-"}, timeout=30)
        assert part.status_code == 206 and part.content == data[start:]
        assert part.headers["content-range"] == f"bytes {start}-{len(data) - 1}/{len(data)}"
        assert httpx.get(link, headers={"Range": f"bytes={len(data)}-"}, timeout=30).status_code == 416
    finally:
        server.stop()
