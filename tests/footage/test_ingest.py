"""Clip ingest end to end on both backends: declare, parts, resume, complete, verification."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.footage.models import Clip
from tests.helpers import api_client, error_code

from .helpers import clip_bytes, days_later, declaration, put, status_of, upload_parts

MiB = 1024 * 1024


def three_parts(settings) -> bytes:
    """Two full parts and a short last one, at the backend's minimum part size."""
    return clip_bytes(2 * settings.RTCC_CLIP_MIN_PART_SIZE + 1000)


def declare(api, body: dict):
    return api.post("/api/v1/clips", body, format="json")


def complete(api, clip_id, commit):
    """POST .../complete, running what it queues after commit (the verification task) as a server would."""
    with commit(execute=True):
        return api.post(f"/api/v1/clips/{clip_id}/complete")


def audit_actions(clip_id) -> list[str]:
    return list(AuditEvent.objects.filter(object_type="clip", object_id=str(clip_id)).values_list("action", flat=True))


def test_multipart_upload_ends_available(store, settings, camera, officer, commit):
    device, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    response = declare(api, declaration(data, trigger="manual", location={"lat": 52.5, "lon": 13.4, "accuracy_m": 8}))
    assert response.status_code == 201, response.content
    clip = response.json()
    assert clip["state"] == "uploading"
    assert (clip["part_size"], clip["part_count"]) == (settings.RTCC_CLIP_MIN_PART_SIZE, 3)
    assert clip["officer"] == str(officer.pk) and clip["device"] == str(device.pk)
    assert clip["category"] == "uncategorized" and clip["retain_until"] is not None
    assert clip["location"] == {"lat": 52.5, "lon": 13.4, "accuracy_m": 8.0}

    upload_parts(api, clip, data, [1, 2, 3])
    status = api.get(f"/api/v1/clips/{clip['id']}/upload").json()
    assert status == {"state": "uploading", "received": [1, 2, 3], "missing": []}

    done = complete(api, clip["id"], commit)
    assert done.status_code == 202, done.content
    assert done.json()["state"] == "verifying"
    stored = Clip.objects.get(pk=clip["id"])
    assert stored.state == "available"  # verified by the task, after commit
    assert stored.observed_sha256 == hashlib.sha256(data).hexdigest() and stored.observed_size == len(data)
    assert b"".join(store.iter_bytes(stored.storage_key)) == data
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json() == {
        "state": "available",
        "received": [1, 2, 3],
        "missing": [],
    }
    assert audit_actions(clip["id"]) == ["clip.declare", "clip.parts", "clip.complete", "clip.verify"]

    again = complete(api, clip["id"], commit)  # re-completing changes nothing
    assert again.status_code == 202 and again.json()["state"] == "available"
    assert audit_actions(clip["id"]).count("clip.complete") == 1


def test_resume_after_partial_upload(store, settings, camera, commit):
    settings.RTCC_CLIP_LIST_PARTS_PAGE = 1  # S3: the store's list of parts is read page by page
    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clip = declare(api, declaration(data)).json()
    upload_parts(api, clip, data, [1, 3])  # the connection dropped before part 2

    status = api.get(f"/api/v1/clips/{clip['id']}/upload").json()
    assert status == {"state": "uploading", "received": [1, 3], "missing": [2]}
    early = complete(api, clip["id"], commit)
    assert early.status_code == 409 and error_code(early) == "upload_incomplete"
    assert early.json()["error"]["missing"] == [2]
    assert Clip.objects.get(pk=clip["id"]).state == "uploading"

    # Resuming: a fresh URL for the missing part only (URLs are re-issuable).
    upload_parts(api, clip, data, status["missing"])
    assert complete(api, clip["id"], commit).status_code == 202
    assert Clip.objects.get(pk=clip["id"]).state == "available"


def test_wrong_hash_ends_corrupt_and_is_kept(store, settings, camera, commit):
    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    body = declaration(data, sha256=hashlib.sha256(b"something else").hexdigest())
    clip = declare(api, body).json()
    upload_parts(api, clip, data, [1, 2, 3])
    assert complete(api, clip["id"], commit).status_code == 202

    stored = Clip.objects.get(pk=clip["id"])
    assert stored.state == "corrupt"
    assert stored.observed_sha256 == hashlib.sha256(data).hexdigest()
    assert store.exists(stored.storage_key)  # kept as found, never deleted
    verify = AuditEvent.objects.get(object_id=clip["id"], action="clip.verify")
    assert verify.outcome == "corrupt" and verify.details["declared_sha256"] == body["sha256"]


def test_a_part_of_the_wrong_size_counts_as_missing_and_completing_with_it_is_corrupt(store, settings, camera, commit):
    """A short middle part: the disk backend refuses it at its PUT, so it is missing (409). S3 keeps
    it; the upload status lists it as missing (to send again), and completing with it anyway is a
    clip whose bytes cannot be its declared size: S3 will not join a part under its minimum, so
    the clip is found corrupt at once, with nothing stored under its key."""
    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clip = declare(api, declaration(data)).json()
    upload_parts(api, clip, data, [1, 3])
    part = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [2]}, format="json").json()["parts"][0]
    answer = put(api, part, data[:1000])  # too short: the disk backend refuses it, S3 keeps it
    assert status_of(answer) in (200, 400)
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["missing"] == [2]
    completed = complete(api, clip["id"], commit)
    stored = Clip.objects.get(pk=clip["id"])
    if status_of(answer) == 400:
        assert completed.status_code == 409 and stored.state == "uploading"
        return
    assert completed.status_code == 202
    assert stored.state == "corrupt" and stored.observed_size is None
    assert not store.exists(stored.storage_key)
    verify = AuditEvent.objects.get(object_id=clip["id"], action="clip.verify")
    assert verify.outcome == "corrupt" and "wrong size" in verify.details["reason"]


def test_a_part_sent_short_then_again_whole_is_the_whole_one(store, settings, camera, commit):
    """SeaweedFS keeps a part sent again beside the copy it replaces, both listed, in no fixed
    order: the short copy listed last was joined, and a good upload ended `corrupt` for good (3 of
    4 tries). The copy of the right size is taken, whatever the order of the list."""
    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clip = declare(api, declaration(data)).json()
    part = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [2]}, format="json").json()["parts"][0]
    for size in (1000, 2000, 3000):  # short copies (the disk backend refuses them at its PUT, S3 keeps each)
        assert status_of(put(api, part, data[:size])) in (200, 400)
    upload_parts(api, clip, data, [1, 2, 3])  # then the whole part: listed among them in no fixed order
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["missing"] == []
    assert complete(api, clip["id"], commit).status_code == 202
    stored = Clip.objects.get(pk=clip["id"])
    assert stored.state == "available" and b"".join(store.iter_bytes(stored.storage_key)) == data


def test_a_part_sent_twice_with_different_bytes_starts_the_upload_over(store, settings, camera, commit):
    """Two copies of a part, each of the right size and with different bytes: which one the camera
    sent last cannot be known (joined at random, the clip was corrupt in about one try in six). The
    upload starts over: 409 upload_incomplete listing every part, new part URLs, then available."""
    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clip = declare(api, declaration(data)).json()
    first_upload = Clip.objects.get(pk=clip["id"]).upload_id
    part = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [1]}, format="json").json()["parts"][0]
    assert status_of(put(api, part, bytes(settings.RTCC_CLIP_MIN_PART_SIZE))) == 200  # zeros, the right size
    upload_parts(api, clip, data, [1, 2, 3])
    key = Clip.objects.get(pk=clip["id"]).storage_key
    listed = [p.number for p in store.multipart_parts(key, first_upload)]
    if listed.count(1) == 1:  # the disk backend keeps the last copy only: nothing to tell apart
        assert complete(api, clip["id"], commit).status_code == 202
        assert Clip.objects.get(pk=clip["id"]).state == "available"
        return
    restarted = complete(api, clip["id"], commit)
    assert restarted.status_code == 409 and error_code(restarted) == "upload_incomplete", restarted.content
    assert restarted.json()["error"]["missing"] == [1, 2, 3]
    assert "twice" in restarted.json()["error"]["message"]
    again = Clip.objects.get(pk=clip["id"])
    assert again.state == "uploading" and again.upload_id != first_upload
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["missing"] == [1, 2, 3]
    upload_parts(api, clip, data, [1, 2, 3])  # new URLs, for the new upload
    assert complete(api, clip["id"], commit).status_code == 202
    stored = Clip.objects.get(pk=clip["id"])
    assert stored.state == "available" and b"".join(store.iter_bytes(stored.storage_key)) == data
    assert audit_actions(clip["id"]).count("clip.upload_restart") == 1


def test_a_clip_whose_bytes_are_not_its_declared_size_ends_corrupt(store, camera, commit):
    """The contract: `complete` answers 202 verifying, and the clip is later `corrupt` when the
    stored bytes do not match the declared size. It answered 409 and the clip stayed uploading.
    (The disk backend refuses a part of the wrong length at its PUT: there it stays missing.)"""
    _, token = camera
    api = api_client(token=token)
    data = clip_bytes(1234)
    clip = declare(api, declaration(data, size_bytes=len(data) + 100)).json()
    part = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [1]}, format="json").json()["parts"][0]
    answer = put(api, part, data)
    completed = complete(api, clip["id"], commit)
    stored = Clip.objects.get(pk=clip["id"])
    if status_of(answer) == 400:
        assert completed.status_code == 409 and stored.state == "uploading"
        return
    assert status_of(answer) == 200
    assert completed.status_code == 202 and completed.json()["state"] == "verifying"
    assert stored.state == "corrupt"
    assert (stored.observed_size, stored.observed_sha256) == (len(data), hashlib.sha256(data).hexdigest())


def test_single_part_clip(store, camera, commit):
    _, token = camera
    api = api_client(token=token)
    data = clip_bytes(1234)
    clip = declare(api, declaration(data)).json()
    assert clip["part_count"] == 1
    upload_parts(api, clip, data, [1])
    assert complete(api, clip["id"], commit).status_code == 202
    assert Clip.objects.get(pk=clip["id"]).state == "available"


def quiet_since(clip_id, *, days: float) -> None:
    """The clip as if declared, and last asked about by its camera, `days` ago (the parts in the
    store keep the time the store took them)."""
    then = timezone.now() - timedelta(days=days)
    Clip.objects.filter(pk=clip_id).update(updated_at=then, upload_seen_at=then)


def test_stale_upload_is_aborted(store, settings, camera, commit):
    from apps.footage.tasks import sweep_uploads
    from apps.integrations.storage import NoSuchUploadError

    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    stale = declare(api, declaration(data)).json()
    fresh = declare(api, declaration(data)).json()
    upload_parts(api, stale, data, [1])
    upload_parts(api, fresh, data, [1])
    with days_later(2):  # fresh's camera asks how its upload stands two days later
        assert api.get(f"/api/v1/clips/{fresh['id']}/upload").json()["missing"] == [2, 3]

    with days_later(3):  # stale: no sign of life for three days (declared, one part, then nothing)
        assert sweep_uploads.apply().get() == {"aborted": 1}

    clip = Clip.objects.get(pk=stale["id"])
    assert clip.state == "aborted" and clip.aborted_at is not None
    with pytest.raises(NoSuchUploadError):
        list(store.multipart_parts(clip.storage_key, clip.upload_id))
    assert Clip.objects.get(pk=fresh["id"]).state == "uploading"
    assert "clip.abort" in audit_actions(clip.pk)
    assert api.get(f"/api/v1/clips/{clip.pk}/upload").json() == {"state": "aborted", "received": [], "missing": []}
    late = complete(api, clip.pk, commit)
    assert late.status_code == 409 and error_code(late) == "clip_not_uploading"
    assert api.post(f"/api/v1/clips/{clip.pk}/parts", {"numbers": [2]}, format="json").status_code == 409


def test_an_old_upload_whose_camera_asked_for_part_urls_lately_is_not_swept(store, settings, camera):
    """Declared three days ago over a poor link: a request about the upload within the 48 hours
    (here part URLs, with no part through yet) keeps it; 48 hours with no sign of life, it goes."""
    from apps.footage.ingest.services import clips_abort_stale

    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clip = declare(api, declaration(data)).json()
    quiet_since(clip["id"], days=3)

    asked = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [1]}, format="json")
    assert asked.status_code == 200, asked.content
    assert clips_abort_stale() == 0
    assert Clip.objects.get(pk=clip["id"]).state == "uploading"

    with days_later(3):  # then nothing more from the camera
        assert clips_abort_stale() == 1
    assert Clip.objects.get(pk=clip["id"]).state == "aborted"
    assert audit_actions(clip["id"]) == ["clip.declare", "clip.parts", "clip.abort"]


def test_an_old_upload_whose_part_the_store_took_lately_is_not_swept(store, settings, camera):
    """Declared, and its part URLs asked for, three days ago; the part PUT since (on S3 it goes
    straight to the store and rtcc hears nothing): the sweep asks the store for the upload's parts
    and keeps it. It looks again only 48 hours after that part; idle that long, the upload goes."""
    from apps.footage.ingest.services import clips_abort_stale

    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clip = declare(api, declaration(data)).json()
    urls = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [1]}, format="json").json()["parts"]
    quiet_since(clip["id"], days=3)
    assert status_of(put(api, urls[0], data[: clip["part_size"]])) == 200
    if store.name == "disk":  # the PUT came to rtcc: news of the upload at once
        assert Clip.objects.get(pk=clip["id"]).upload_seen_at > timezone.now() - timedelta(minutes=1)
        quiet_since(clip["id"], days=3)  # what the store's list of parts says is what is tested below

    assert clips_abort_stale() == 0
    row = Clip.objects.get(pk=clip["id"])
    assert row.state == "uploading"
    assert row.upload_seen_at > timezone.now() - timedelta(minutes=1)  # the part's time, noted
    assert audit_actions(clip["id"]) == ["clip.declare", "clip.parts"]

    with days_later(3):
        assert clips_abort_stale() == 1
    assert Clip.objects.get(pk=clip["id"]).state == "aborted"
    assert audit_actions(clip["id"])[-1] == "clip.abort"


def test_the_stale_sweep_aborts_nothing_while_the_store_cannot_list_parts(store, settings, camera, store_fails, caplog):
    """A store that does not answer is no sign that an upload is idle: the sweep aborts nothing,
    says so once, and the next run (the store back) aborts the idle uploads."""
    from apps.footage.ingest.services import clips_abort_stale

    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clips = [declare(api, declaration(data)).json() for _ in range(2)]
    for clip in clips:
        upload_parts(api, clip, data, [1])
    bucket, root = settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR

    store_fails(s3=bucket is not None)
    with days_later(3), caplog.at_level("WARNING", logger="apps.footage.ingest.services"):
        assert clips_abort_stale() == 0
    said = [r.getMessage() for r in caplog.records if r.name == "apps.footage.ingest.services"]
    assert len(said) == 1 and "did not list the parts" in said[0], said  # once, not once per clip
    assert set(Clip.objects.filter(pk__in=[c["id"] for c in clips]).values_list("state", flat=True)) == {"uploading"}

    settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR = bucket, root  # the store answers again
    with days_later(3):
        assert clips_abort_stale() == 2
    for clip in clips:
        assert audit_actions(clip["id"])[-1] == "clip.abort"


def test_an_upload_the_store_does_not_abort_now_is_aborted_by_the_leftover_sweep(
    store, settings, camera, commit, monkeypatch
):
    """The stale sweep gives an upload up and the store refuses the abort: the clip is `aborted`
    at once, and its parts are deleted by the leftover sweep once the store answers, not kept for good."""
    from apps.footage.ingest.services import clips_abort_stale
    from apps.integrations import tasks as integration_tasks
    from apps.integrations.models import StoreLeftover
    from apps.integrations.storage import NoSuchUploadError, get_storage

    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clip = declare(api, declaration(data)).json()
    upload_parts(api, clip, data, [1])
    row = Clip.objects.get(pk=clip["id"])
    assert [part.number for part in store.multipart_parts(row.storage_key, row.upload_id)] == [1]

    def refused(key, upload_id):
        raise ConnectionError("the store went away")

    with monkeypatch.context() as patched:
        patched.setattr(store, "multipart_abort", refused)
        with days_later(3):
            assert clips_abort_stale() == 1
        assert Clip.objects.get(pk=row.pk).state == "aborted"
        leftover = StoreLeftover.objects.get()
        assert (leftover.key, leftover.upload_id) == (row.storage_key, row.upload_id)
        assert integration_tasks.delete_leftovers() == {"deleted": 0, "failed": 1}

    # the store answers again
    assert [part.number for part in get_storage().multipart_parts(row.storage_key, row.upload_id)] == [1]
    assert integration_tasks.delete_leftovers() == {"deleted": 1, "failed": 0}
    with pytest.raises(NoSuchUploadError):
        list(get_storage().multipart_parts(row.storage_key, row.upload_id))
    assert not StoreLeftover.objects.exists()


def test_a_camera_back_after_its_upload_was_aborted_can_upload_again(store, settings, camera, commit):
    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    body = declaration(data)
    clip = declare(api, body).json()
    upload_parts(api, clip, data, [1])
    from apps.footage.ingest.services import clips_abort_stale

    with days_later(3):
        assert clips_abort_stale() == 1

    again = declare(api, body)  # the camera is back: same recording, same clip, a fresh upload
    assert again.status_code == 200 and again.json()["id"] == clip["id"]
    assert again.json()["state"] == "uploading"
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["missing"] == [1, 2, 3]
    assert clips_abort_stale() == 0  # reopened just now: not stale
    upload_parts(api, clip, data, [1, 2, 3])
    assert complete(api, clip["id"], commit).status_code == 202
    assert Clip.objects.get(pk=clip["id"]).state == "available"
    assert audit_actions(clip["id"]).count("clip.reopen") == 1


def test_an_upload_on_legal_hold_is_never_given_up_by_the_stale_sweep(store, settings, camera, commit, clerk):
    from apps.footage.ingest.services import clips_abort_stale

    _, token = camera
    api = api_client(token=token)
    data = three_parts(settings)
    clip = declare(api, declaration(data)).json()
    upload_parts(api, clip, data, [1])
    held = api_client(clerk).post(f"/api/v1/clips/{clip['id']}/hold", {"reason": "case 26-114"}, format="json")
    assert held.status_code == 200, held.content

    with days_later(3):
        assert clips_abort_stale() == 0
    assert Clip.objects.get(pk=clip["id"]).state == "uploading"
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["missing"] == [2, 3]  # part 1 kept
    upload_parts(api, clip, data, [2, 3])  # the camera comes back days later
    assert complete(api, clip["id"], commit).status_code == 202
    assert Clip.objects.get(pk=clip["id"]).state == "available"


def test_redeclare_is_idempotent(disk_store, camera):
    _, token = camera
    api = api_client(token=token)
    data = clip_bytes(5000)
    body = declaration(data)
    first = declare(api, body)
    second = declare(api, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert Clip.objects.count() == 1

    changed = declare(api, {**body, "size_bytes": 5001})
    assert changed.status_code == 409 and error_code(changed) == "clip_conflict"
    other_hash = declare(api, {**body, "sha256": "0" * 64})
    assert other_hash.status_code == 409
    assert Clip.objects.count() == 1


def test_same_recording_id_on_another_device_is_another_clip(disk_store, make_device):
    data = clip_bytes(100)
    body = declaration(data, recording_id="rec-0001")
    ids = set()
    for _ in range(2):
        _, token = make_device()
        response = declare(api_client(token=token), body)
        assert response.status_code == 201
        ids.add(response.json()["id"])
    assert len(ids) == 2


def test_officer_is_the_assignee_at_recording_time(disk_store, make_device, officer, other_officer):
    from apps.devices.models import Assignment
    from apps.devices.services import device_assign

    device, token = make_device(officer=officer)
    device_assign(device=device, officer_id=other_officer.pk)
    handover = timezone.now() - timedelta(hours=1)  # the camera changed hands an hour ago
    Assignment.objects.filter(device=device, officer=officer).update(ended_at=handover)
    Assignment.objects.filter(device=device, officer=other_officer).update(started_at=handover)
    api = api_client(token=token)
    data = clip_bytes(100)
    end = timezone.now() - timedelta(hours=2)
    old = declare(
        api, declaration(data, started_at=(end - timedelta(minutes=5)).isoformat(), ended_at=end.isoformat())
    ).json()
    new = declare(api, declaration(data)).json()
    assert old["officer"] == str(officer.pk)
    assert new["officer"] == str(other_officer.pk)


def test_unassigned_camera_makes_clips_without_officer(disk_store, make_device):
    _, token = make_device()
    clip = declare(api_client(token=token), declaration(clip_bytes(10))).json()
    assert clip["officer"] is None


def test_remote_trigger_links_the_command(disk_store, camera):
    import uuid

    _, token = camera
    api = api_client(token=token)
    command_id = str(uuid.uuid4())
    clip = declare(api, declaration(clip_bytes(10), trigger="remote", command_id=command_id)).json()
    assert clip["trigger"] == "remote" and clip["command_id"] == command_id
    assert Clip.objects.get(pk=clip["id"]).command_id == uuid.UUID(command_id)


def test_a_clip_is_not_linked_to_a_command_sent_to_another_camera(disk_store, camera, make_device, make_user):
    from apps.control.services import command_create

    device, token = camera
    other, _ = make_device()
    operator = make_user("operator")
    theirs, _ = command_create(device=other, requested_by=operator, action="start_recording", reason="Scene")
    ours, _ = command_create(device=device, requested_by=operator, action="start_recording", reason="Scene")
    api = api_client(token=token)
    kept = declare(api, declaration(clip_bytes(10), trigger="remote", command_id=str(theirs.pk)))
    assert kept.status_code == 201  # the recording is evidence: declared, not linked to their command
    assert kept.json()["command_id"] is None and not Clip.objects.filter(command_id=theirs.pk).exists()
    declared = AuditEvent.objects.get(action="clip.declare", object_id=kept.json()["id"])
    assert declared.details["command_id_not_linked"] == str(theirs.pk)
    linked = declare(api, declaration(clip_bytes(20), trigger="remote", command_id=str(ours.pk)))
    assert linked.status_code == 201 and linked.json()["command_id"] == str(ours.pk)


def test_large_clip_gets_bigger_parts_within_the_part_limit(disk_store, settings, camera):
    settings.RTCC_CLIP_MIN_PART_SIZE = 8 * MiB
    _, token = camera
    api = api_client(token=token)
    body = declaration(b"", size_bytes=64 * 1024 * MiB, sha256="a" * 64)
    clip = declare(api, body).json()
    assert clip["part_count"] <= 10_000 and clip["part_size"] >= 8 * MiB
    assert clip["part_size"] * clip["part_count"] >= body["size_bytes"]
    small = declare(api, declaration(b"", size_bytes=20 * MiB, sha256="b" * 64)).json()
    assert (small["part_size"], small["part_count"]) == (8 * MiB, 3)


def test_state_changes_reach_the_console(disk_store, camera, commit):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from apps.core.realtime import CONSOLE_GROUP

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(CONSOLE_GROUP, channel)
    try:
        _, token = camera
        api = api_client(token=token)
        data = clip_bytes(2000)
        with commit(execute=True):
            clip = declare(api, declaration(data)).json()
        upload_parts(api, clip, data, [1])
        complete(api, clip["id"], commit)
        states = []
        for _ in range(3):
            message = async_to_sync(layer.receive)(channel)
            event = message["event"]
            assert event["type"] == "clip.update" and event["clip"]["id"] == clip["id"]
            states.append(event["clip"]["state"])
        assert states == ["uploading", "verifying", "available"]
    finally:
        async_to_sync(layer.group_discard)(CONSOLE_GROUP, channel)


def test_a_part_the_disk_cannot_keep_is_503_and_the_same_part_again_is_200(disk_store, camera):
    _, token = camera
    api = api_client(token=token)
    data = clip_bytes(100)
    clip = declare(api, declaration(data)).json()
    part = api.post(f"/api/v1/clips/{clip['id']}/parts", {"numbers": [1]}, format="json").json()["parts"][0]
    (upload_dir,) = disk_store.uploads.iterdir()
    blocker = upload_dir / "00001.part"
    (blocker / "in-the-way").mkdir(parents=True)  # where the part must go: the rename fails
    refused = put(api, part, data)
    assert refused.status_code == 503 and error_code(refused) == "storage_unavailable"
    assert int(refused["Retry-After"]) == refused.json()["error"]["retry_after"] >= 1
    (blocker / "in-the-way").rmdir()
    blocker.rmdir()
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["received"] == []
    assert put(api, part, data).status_code == 200
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["received"] == [1]


def test_store_failing_is_503_and_stores_nothing(disk_store, camera):
    disk_store.uploads.write_bytes(b"")  # a file where the uploads directory must go: every write fails
    _, token = camera
    response = declare(api_client(token=token), declaration(clip_bytes(100)))
    assert response.status_code == 503 and error_code(response) == "storage_unavailable"
    assert not Clip.objects.exists()


def test_a_download_link_the_store_cannot_serve_is_503(disk_store, store_fails):
    import io

    from apps.integrations.storage import signed_get_path

    disk_store.put("misc/object.bin", io.BytesIO(b"bytes"))
    path = signed_get_path("misc/object.bin", expires_in=60)
    assert b"".join(api_client().get(path).streaming_content) == b"bytes"
    store_fails()
    response = api_client().get(path)
    assert response.status_code == 503 and error_code(response) == "storage_unavailable"
    assert int(response["Retry-After"]) >= 1


def test_a_clip_recorded_just_before_its_camera_was_assigned_is_that_officers(
    disk_store, make_device, officer, other_officer
):
    """An officer starts recording, then IT records the hand-out: the clip of a minute ago was
    of no officer, and the officer could not find it. A camera handed out while it recorded gives
    the clip to whoever got it; one back in the pool when it recorded still gives no officer."""
    from apps.devices.services import device_assign, device_unassign

    device, token = make_device()
    device_assign(device=device, officer_id=officer.pk)  # seconds ago, after the recordings below
    api = api_client(token=token)
    data = clip_bytes(100)
    now = timezone.now()
    before = declare(
        api,
        declaration(
            data, started_at=(now - timedelta(minutes=2)).isoformat(), ended_at=(now - timedelta(minutes=1)).isoformat()
        ),
    ).json()
    across = declare(
        api,
        declaration(
            data,
            started_at=(now - timedelta(seconds=30)).isoformat(),
            ended_at=(now + timedelta(seconds=1)).isoformat(),
        ),
    ).json()
    assert before["officer"] == across["officer"] == str(officer.pk)
    assert api_client(officer).get(f"/api/v1/clips/{before['id']}").status_code == 200
    from apps.devices.models import Assignment

    device.refresh_from_db()
    device_unassign(device=device)
    device_assign(device=device, officer_id=other_officer.pk)
    # Back in the pool from 30 to 10 minutes ago, between the two officers.
    Assignment.objects.filter(device=device, officer=officer).update(
        started_at=now - timedelta(hours=1), ended_at=now - timedelta(minutes=30)
    )
    Assignment.objects.filter(device=device, officer=other_officer).update(started_at=now - timedelta(minutes=10))
    pooled = declare(
        api,
        declaration(
            data,
            started_at=(now - timedelta(minutes=20)).isoformat(),
            ended_at=(now - timedelta(minutes=15)).isoformat(),
        ),
    ).json()
    assert pooled["officer"] is None
