"""Verification leased in the database (issue 13): a store failing mid-verification never makes a
clip corrupt nor leaves it to a 10-minute sweep; one reader per clip at a time; and `complete`
while the store fails is a 503 with Retry-After that stores nothing.

The faults are real ones in the disk store's files (a directory where a file must be), not mocks."""

from __future__ import annotations

import shutil
from datetime import timedelta

from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.footage.models import Clip
from tests.helpers import api_client, error_code

from .helpers import clip_bytes, declaration, upload_parts


def uploaded(camera, commit, size: int = 3000) -> tuple[object, dict]:
    """A clip whose parts are all stored (still `uploading`): (api, clip json)."""
    _, token = camera
    api = api_client(token=token)
    data = clip_bytes(size)
    with commit(execute=True):
        clip = api.post("/api/v1/clips", declaration(data), format="json").json()
    upload_parts(api, clip, data, [1])
    return api, clip


def complete_unverified(api, clip_id, commit):
    """POST .../complete without running what it queued (the verification task is 'in the broker')."""
    with commit(execute=False):
        return api.post(f"/api/v1/clips/{clip_id}/complete")


def verifications(clip_id) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_id=str(clip_id), action="clip.verify").values_list("outcome", flat=True)
    )


def break_object(store, key: str):
    """The object's path turns into a directory: every read of it fails with an OSError."""
    path = store.path(key)
    moved = path.with_name(path.name + ".away")
    path.rename(moved)
    path.mkdir()
    return path, moved


def repair_object(path, moved) -> None:
    path.rmdir()
    moved.rename(path)


def time_passes(clip_id, seconds: float = 120) -> None:
    """The clock moves on past the clip's lease or retry time (what waiting would do)."""
    clip = Clip.objects.get(pk=clip_id)
    Clip.objects.filter(pk=clip_id).update(verify_due_at=clip.verify_due_at - timedelta(seconds=seconds))


def test_store_error_during_verification_keeps_the_clip_verifying_and_the_sweep_verifies_it(disk_store, camera, commit):
    from apps.footage.tasks import verify_clip, verify_sweep

    api, clip = uploaded(camera, commit)
    assert complete_unverified(api, clip["id"], commit).status_code == 202
    stored = Clip.objects.get(pk=clip["id"])
    path, moved = break_object(disk_store, stored.storage_key)

    before = timezone.now()
    assert verify_clip.apply(args=(clip["id"],)).get() == "verifying"  # the store failed mid-read
    stored = Clip.objects.get(pk=clip["id"])
    assert stored.state == "verifying"  # never corrupt for a store error
    assert stored.verify_due_at is not None and stored.verify_due_at > before  # due again, backed off
    assert stored.verify_attempts == 1
    assert verifications(clip["id"]) == []

    # Not due yet: the sweep leaves it (no hammering of a failing store).
    assert verify_sweep.apply().get() == {"queued": 0}

    # Still failing when due again: the pause doubles, still `verifying`.
    time_passes(clip["id"])
    first_pause = stored.verify_due_at - before
    before = timezone.now()
    assert verify_sweep.apply().get() == {"queued": 1}
    stored = Clip.objects.get(pk=clip["id"])
    assert stored.state == "verifying" and stored.verify_attempts == 2
    assert stored.verify_due_at - before > first_pause

    # The store is back: the next sweep once due verifies the clip, once.
    repair_object(path, moved)
    time_passes(clip["id"])
    assert verify_sweep.apply().get() == {"queued": 1}
    stored = Clip.objects.get(pk=clip["id"])
    assert stored.state == "available" and stored.verify_due_at is None
    assert verifications(clip["id"]) == ["available"]
    assert api.get(f"/api/v1/clips/{clip['id']}/upload").json()["state"] == "available"
    assert verify_sweep.apply().get() == {"queued": 0}


def test_a_claimed_verification_is_not_run_twice(disk_store, camera, commit):
    from apps.footage.ingest.services import VerifyLeaseLost, _verify_renew, verify_claim
    from apps.footage.tasks import verify_clip, verify_sweep

    api, clip = uploaded(camera, commit)
    complete_unverified(api, clip["id"], commit)
    held = verify_claim(clip["id"])  # a worker is reading the clip
    assert held == 1
    assert verify_claim(clip["id"]) is None  # nobody else takes it meanwhile

    # The task `complete` queued, a redelivered copy, the sweep: none reads it while it is held.
    assert verify_clip.apply(args=(clip["id"],)).get() == "verifying"
    assert verify_sweep.apply().get() == {"queued": 0}
    assert Clip.objects.get(pk=clip["id"]).verify_attempts == 1
    assert verifications(clip["id"]) == []

    # The holder was killed: its lease runs out, the sweep takes the clip and verifies it once.
    time_passes(clip["id"])
    assert verify_sweep.apply().get() == {"queued": 1}
    stored = Clip.objects.get(pk=clip["id"])
    assert stored.state == "available" and stored.verify_attempts == 2
    assert verifications(clip["id"]) == ["available"]
    # The old holder, were it still reading, is fenced off: it cannot renew (nor write a verdict).
    try:
        _verify_renew(clip["id"], held)
    except VerifyLeaseLost:
        pass
    else:
        raise AssertionError("a lost lease was renewed")


def test_a_missing_object_is_corrupt_only_once_several_reads_agree(disk_store, settings, camera, commit):
    from apps.footage.tasks import verify_clip, verify_sweep

    settings.RTCC_CLIP_VERIFY_MISSING_ATTEMPTS = 2
    api, clip = uploaded(camera, commit)
    complete_unverified(api, clip["id"], commit)
    path, moved = break_object(disk_store, Clip.objects.get(pk=clip["id"]).storage_key)
    assert verify_clip.apply(args=(clip["id"],)).get() == "verifying"  # the store failed: not a finding
    path.rmdir()  # and now no object at all
    for _ in range(2):
        assert Clip.objects.get(pk=clip["id"]).state == "verifying"  # a store coming back may say so
        time_passes(clip["id"])
        verify_sweep.apply()
    assert Clip.objects.get(pk=clip["id"]).state == "corrupt"  # two reads agree: nothing stored
    assert verifications(clip["id"]) == ["corrupt"]
    assert moved.exists()


def test_complete_while_the_store_fails_is_503_with_retry_after_and_stores_nothing(disk_store, camera, commit):
    from apps.footage.tasks import verify_sweep

    api, clip = uploaded(camera, commit)
    marker = disk_store.uploads / Clip.objects.get(pk=clip["id"]).upload_id / "key"
    kept = marker.read_text()
    marker.unlink()
    marker.mkdir()  # the store fails every read of the upload

    response = complete_unverified(api, clip["id"], commit)
    assert response.status_code == 503 and error_code(response) == "storage_unavailable"
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["retry_after"] == int(response["Retry-After"])
    assert Clip.objects.get(pk=clip["id"]).state == "uploading"
    assert not AuditEvent.objects.filter(object_id=clip["id"], action="clip.complete").exists()
    assert verify_sweep.apply().get() == {"queued": 0}

    shutil.rmtree(marker)
    marker.write_text(kept)  # the store is back: the device's retry completes the upload
    with commit(execute=True):
        again = api.post(f"/api/v1/clips/{clip['id']}/complete")
    assert again.status_code == 202
    assert Clip.objects.get(pk=clip["id"]).state == "available"
    assert verifications(clip["id"]) == ["available"]


def test_readers_racing_for_one_clip_take_it_once(transactional_db, disk_store, camera, commit):
    """Eight readers (the queued task, redeliveries, sweeps on other workers) claim at once, each on
    its own database connection: exactly one gets the lease."""
    from apps.footage.ingest.services import verify_claim
    from tests.helpers import at_once

    _, clip = uploaded(camera, commit)
    Clip.objects.filter(pk=clip["id"]).update(state="verifying", verify_due_at=timezone.now())

    results = at_once(*[lambda: verify_claim(clip["id"])] * 8)
    assert sorted(results, key=lambda r: r is None) == [1] + [None] * 7
    assert Clip.objects.get(pk=clip["id"]).verify_attempts == 1
