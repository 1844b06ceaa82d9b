"""Categories and retention, clerks' changes to a clip, legal hold, the purge to a tombstone, Object Lock."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.footage.records_support import *  # noqa: F403 - the records fixtures
from tests.helpers import api_client, error_code

CLERK_ONLY = {
    "clerk": 200,
    "officer": 403,
    "other_officer": 403,
    "operator": 403,
    "it": 403,
    "superuser": 403,
    "anonymous": 401,
    "device": 403,
}


# Categories ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["clerk", "officer", "operator", "it", "superuser", "anonymous", "device"])
def test_categories_list_by_role(who, caller):
    response = caller(who).get("/api/v1/categories")
    expected = {"anonymous": 401, "device": 403}.get(who, 200)
    assert response.status_code == expected, response.content
    if expected == 200:
        body = response.json()  # a page, as every list of the contract
        assert set(body) == {"count", "next", "previous", "results"} and body["count"] == len(body["results"])
        assert {"slug": "uncategorized", "name": "Uncategorized", "retention_days": 180} in body["results"]
        assert {"slug": "evidence", "name": "Evidence", "retention_days": None} in body["results"]


@pytest.mark.parametrize("who", list(CLERK_ONLY))
def test_categories_create_by_role(who, caller):
    body = {"slug": f"traffic-stop-{who}".replace("_", "-"), "name": "Traffic stop", "retention_days": 3 * 365}
    response = caller(who).post("/api/v1/categories", body, format="json")
    expected = 201 if who == "clerk" else CLERK_ONLY[who]
    assert response.status_code == expected, response.content
    if expected == 201:
        assert response.json() == body
        assert body in caller("clerk").get("/api/v1/categories").json()["results"]
    else:
        error_code(response)


@pytest.mark.parametrize("slug", [5, 5.5])
def test_a_category_slug_is_text(slug, clerk):
    from apps.footage.models import Category

    before = Category.objects.count()
    response = api_client(clerk).post("/api/v1/categories", {"slug": slug, "name": "Five"}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == ["slug"] and Category.objects.count() == before


def test_the_categories_list_pages_like_every_list(clerk):
    api = api_client(clerk)
    first = api.get("/api/v1/categories?page_size=1").json()
    assert first["count"] == 2 and len(first["results"]) == 1 and first["next"] and first["previous"] is None
    second = api.get("/api/v1/categories?page=2&page_size=1").json()
    assert [c["slug"] for c in first["results"] + second["results"]] == ["evidence", "uncategorized"]


@pytest.mark.parametrize("query, status", [("page=0", 400), ("page=99", 404), ("sort=name", 400)])
def test_a_bad_page_or_parameter_of_the_categories_list_is_refused(query, status, clerk):
    """As on every list: a page that is no number from 1 and an unknown parameter are a 400, a
    page past the last a 404."""
    response = api_client(clerk).get(f"/api/v1/categories?{query}")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"]


def test_categories_create_rules(clerk):
    api = api_client(clerk)
    assert (
        api.post(
            "/api/v1/categories", {"slug": "homicide", "name": "Homicide", "retention_days": None}, format="json"
        ).status_code
        == 201
    )
    again = api.post("/api/v1/categories", {"slug": "homicide", "name": "Again"}, format="json")
    assert again.status_code == 409 and error_code(again) == "category_exists"
    assert api.post("/api/v1/categories", {"slug": "evidence"}, format="json").status_code == 409
    for bad in [
        {},
        {"slug": "Has Spaces"},
        {"slug": "x", "retention_days": 0},
        {"slug": "y", "retention_days": -3},
        {"slug": "z", "retention_days": "long"},
        {"slug": "-dash"},
        {"slug": "a" * 65},
    ]:
        response = api.post("/api/v1/categories", bad, format="json")
        assert response.status_code == 400, bad
        assert error_code(response) == "invalid"


# Clerks' changes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", list(CLERK_ONLY))
def test_patch_by_role(who, caller, make_clip, officer):
    clip = make_clip(officer)
    response = caller(who).patch(f"/api/v1/clips/{clip.pk}", {"case_number": "2025-77"}, format="json")
    assert response.status_code == CLERK_ONLY[who], response.content
    clip.refresh_from_db()
    assert clip.case_number == ("2025-77" if who == "clerk" else "")


def test_patch_recomputes_retain_until_from_the_category(clerk, make_clip):
    from apps.footage.models import Category

    Category.objects.create(slug="traffic-stop", name="Traffic stop", retention_days=3 * 365)
    Category.objects.create(slug="homicide", name="Homicide", retention_days=None)
    started = timezone.now() - timedelta(days=10)
    clip = make_clip(started_at=started)
    api = api_client(clerk)
    assert clip.retain_until == started + timedelta(days=180)

    body = api.patch(f"/api/v1/clips/{clip.pk}", {"category": "traffic-stop"}, format="json").json()
    clip.refresh_from_db()
    assert body["category"] == "traffic-stop" and clip.retain_until == started + timedelta(days=3 * 365)

    incident = str(uuid.uuid4())
    from apps.briefings.models import Incident

    Incident.objects.create(id=incident, title="Shots fired", lat=40.7, lon=-74.0)
    body = api.patch(
        f"/api/v1/clips/{clip.pk}", {"category": "homicide", "case_number": "H-1", "incident": incident}, format="json"
    ).json()
    assert body["retain_until"] is None and body["case_number"] == "H-1" and body["incident"] == incident

    body = api.patch(f"/api/v1/clips/{clip.pk}", {"case_number": None, "incident": None}, format="json").json()
    assert body["case_number"] == "" and body["incident"] is None and body["category"] == "homicide"


@pytest.mark.parametrize(
    "patch",
    [
        {"category": "no-such"},
        {"category": ""},
        {"incident": "x"},
        {"incident": str(uuid.UUID(int=5))},
        {"case_number": "x" * 65},
        {"case_number": "CR\tTAB"},  # its manifest could never be read
        {"case_number": "CR\n1"},
        {"case_number": 42},  # a number is not text: never stored as "42"
        {"category": 5},
        {"legal_hold": True},
        {"state": "purged"},
        {"retain_until": None},
    ],
)
def test_patch_bad_input_changes_nothing(patch, clerk, make_clip):
    clip = make_clip()
    response = api_client(clerk).patch(f"/api/v1/clips/{clip.pk}", patch, format="json")
    assert response.status_code == 400, response.content
    before = clip.retain_until
    clip.refresh_from_db()
    assert clip.category.slug == "uncategorized" and clip.retain_until == before and clip.state == "available"
    assert clip.case_number == ""


@pytest.mark.parametrize(
    ("method", "path", "body", "changed"),
    [
        ("post", "/hold", {"reason": "DA request"}, {"legal_hold": True, "category": "homicide"}),
        ("patch", "", {"category": "short-term"}, {"legal_hold": False, "category": "short-term"}),
    ],
)
def test_a_change_that_waited_for_another_clerk_filing_the_clip_is_made_after_it(
    transactional_db, postgres_db, method, path, body, changed, clerk, make_clip, officer
):
    """Two clerks at one clip at once, on PostgreSQL: one files it in another category while the
    other's hold (or category change) waits for the row. The waiting one is made after it (it was a
    500: the clip's row was locked joined to its old category, and the re-check found no row)."""
    import threading

    from django.db import connection

    from apps.footage.models import Category, Clip

    Category.objects.create(slug="short-term", name="Short term", retention_days=1)
    homicide = Category.objects.create(slug="homicide", name="Homicide", retention_days=None)
    clip = make_clip(officer)
    filing, waited = threading.Event(), threading.Event()

    def file_it() -> None:
        try:
            with transaction.atomic():
                Clip.objects.filter(pk=clip.pk).update(category=homicide)  # the row locked until commit
                filing.set()
                for _ in range(1500):  # until the other request waits for this row, then commit
                    with connection.cursor() as cursor:  # (a lock wait on this transaction, none other)
                        cursor.execute(
                            "SELECT count(*) FROM pg_locks WHERE NOT granted"
                            " AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
                        )
                        if cursor.fetchone()[0]:
                            waited.set()
                            break
                    threading.Event().wait(0.02)
        finally:
            connection.close()

    other = threading.Thread(target=file_it)
    other.start()
    assert filing.wait(30)
    response = getattr(api_client(clerk), method)(f"/api/v1/clips/{clip.pk}{path}", body, format="json")
    other.join(30)
    assert waited.is_set()  # the request did wait for the other change: the race was run
    assert response.status_code == 200, response.content
    assert {key: response.json()[key] for key in changed} == changed


# Legal hold --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", list(CLERK_ONLY))
@pytest.mark.parametrize("method", ["post", "delete"])
def test_hold_by_role(who, method, caller, make_clip, officer):
    clip = make_clip(officer, legal_hold=method == "delete")
    response = getattr(caller(who), method)(f"/api/v1/clips/{clip.pk}/hold", {"reason": "DA request"}, format="json")
    assert response.status_code == CLERK_ONLY[who], response.content
    clip.refresh_from_db()
    assert clip.legal_hold == (method == "post" if who == "clerk" else method == "delete")


def test_hold_on_and_off_needs_a_reason(clerk, make_clip):
    clip = make_clip()
    api = api_client(clerk)
    for method in ("post", "delete"):
        response = getattr(api, method)(f"/api/v1/clips/{clip.pk}/hold", {}, format="json")
        assert response.status_code == 400 and "reason" in response.json()["error"]["fields"]
    assert api.post(f"/api/v1/clips/{clip.pk}/hold", {"reason": "case 12"}, format="json").json()["legal_hold"]
    assert api.get(f"/api/v1/clips/{clip.pk}").json()["legal_hold"] is True
    assert api.delete(f"/api/v1/clips/{clip.pk}/hold?reason=case%20closed").json()["legal_hold"] is False
    actions = [r["action"] for r in api.get(f"/api/v1/clips/{clip.pk}/custody").json()["results"]]
    assert actions == ["clip.hold", "clip.release"]


def test_a_purged_clip_cannot_be_held(clerk, make_clip):
    clip = make_clip(state="purged")
    response = api_client(clerk).post(f"/api/v1/clips/{clip.pk}/hold", {"reason": "late"}, format="json")
    assert response.status_code == 409 and error_code(response) == "clip_purged"


# Purge -------------------------------------------------------------------------------------------


def _expired(make_clip, store, **fields):
    started = timezone.now() - timedelta(days=400)
    return make_clip(store=store, started_at=started, retain_until=timezone.now() - timedelta(days=1), **fields)


def test_periodic_purge_respects_hold_retention_and_state(make_clip, rec_disk):
    from apps.audit.models import AuditEvent
    from apps.footage.models import Category, Clip
    from apps.footage.records.tasks import purge_expired_clips

    expired = _expired(make_clip, rec_disk)
    held = _expired(make_clip, rec_disk, legal_hold=True)
    fresh = make_clip(store=rec_disk)  # 180 days from two hours ago
    forever = make_clip(
        store=rec_disk,
        category=Category.objects.get(slug="evidence"),
        retain_until=None,
        started_at=timezone.now() - timedelta(days=4000),
    )
    untouched = [_expired(make_clip, rec_disk, state=state) for state in ("uploading", "verifying", "corrupt")]

    result = purge_expired_clips.delay().get()
    assert result == {"purged": 1, "skipped": 0}

    expired.refresh_from_db()
    assert expired.state == "purged" and expired.purged_at is not None and expired.purged_by is None
    assert expired.sha256 == hashlib.sha256(expired.data).hexdigest()  # the hash stays on the tombstone
    assert expired.size_bytes == len(expired.data) and expired.purge_reason == "retention period passed"
    assert not rec_disk.exists(expired.storage_key)
    event = AuditEvent.objects.get(object_id=str(expired.pk), action="clip.purge")
    assert event.details["sha256"] == expired.sha256 and event.actor_type == "system"

    for clip in (held, fresh, forever, *untouched):
        state = clip.state
        clip.refresh_from_db()
        assert clip.state == state and rec_disk.exists(clip.storage_key), clip.state
    assert Clip.objects.filter(state="purged").count() == 1
    assert purge_expired_clips.delay().get() == {"purged": 0, "skipped": 0}  # nothing twice


def test_tombstone_reads_back_through_the_api(clerk, make_clip, rec_disk):
    from apps.footage.records.services import clips_purge_expired

    clip = _expired(make_clip, rec_disk, case_number="T-1")
    clips_purge_expired()
    api = api_client(clerk)
    body = api.get(f"/api/v1/clips/{clip.pk}").json()
    assert body["state"] == "purged" and body["sha256"] == clip.sha256 and body["size_bytes"] == len(clip.data)
    assert body["purged_at"] and body["purge_reason"] == "retention period passed"
    assert [c["id"] for c in api.get("/api/v1/clips", {"state": "purged"}).json()["results"]] == [str(clip.pk)]
    assert api.post(f"/api/v1/clips/{clip.pk}/access", {"reason": "x"}, format="json").status_code == 409


def test_nothing_deletes_a_held_clip(make_clip, rec_disk):
    from apps.footage.models import Clip
    from apps.footage.records.services import ClipHeldError, clip_purge

    clip = _expired(make_clip, rec_disk, legal_hold=True)
    with pytest.raises(ClipHeldError):
        clip_purge(clip_id=clip.pk, reason="try anyway", reviewed=True)
    with pytest.raises(IntegrityError), transaction.atomic():  # not even a stray UPDATE
        Clip.objects.filter(pk=clip.pk).update(state="purged")
    clip.refresh_from_db()
    assert clip.state == "available" and rec_disk.exists(clip.storage_key)


def test_purge_by_hand_after_review(clerk, officer, make_clip, rec_disk):
    corrupt = _expired(make_clip, rec_disk, state="corrupt")
    api = api_client(clerk)
    refused = api.post(f"/api/v1/clips/{corrupt.pk}/purge", {"reason": "bad upload"}, format="json")
    assert refused.status_code == 409 and error_code(refused) == "review_required"
    assert (
        api_client(officer)
        .post(f"/api/v1/clips/{corrupt.pk}/purge", {"reason": "x", "reviewed": True}, format="json")
        .status_code
        == 403
    )
    done = api.post(
        f"/api/v1/clips/{corrupt.pk}/purge", {"reason": "reviewed: camera fault", "reviewed": True}, format="json"
    )
    assert done.status_code == 200 and done.json()["state"] == "purged"
    assert done.json()["purged_by"] == str(clerk.pk) and not rec_disk.exists(corrupt.storage_key)

    early = make_clip(store=rec_disk)
    response = api.post(f"/api/v1/clips/{early.pk}/purge", {"reason": "tidy", "reviewed": True}, format="json")
    assert response.status_code == 409 and error_code(response) == "retention_not_passed"
    assert rec_disk.exists(early.storage_key)


def test_purge_on_s3_deletes_the_object(make_clip, s3):
    from apps.footage.records.services import clips_purge_expired

    clip = _expired(make_clip, s3)
    held = _expired(make_clip, s3, legal_hold=True)
    assert clips_purge_expired()["purged"] == 1
    assert not s3.exists(clip.storage_key) and s3.exists(held.storage_key)


# Object Lock -------------------------------------------------------------------------------------


def test_object_lock_follows_retention_and_hold(clerk, make_clip, lock_store, django_capture_on_commit_callbacks):
    from apps.footage.models import Category
    from apps.footage.records.tasks import object_lock_sweep
    from apps.integrations.storage import StorageError

    short = Category.objects.create(slug="lock-test", name="Lock test", retention_days=1)
    started = timezone.now() - timedelta(days=1) + timedelta(minutes=2)  # retention ends in two minutes
    clip = make_clip(store=lock_store, category=short, started_at=started, retain_until=started + timedelta(days=1))
    assert object_lock_sweep.delay().get() == 1
    client, bucket = lock_store.client, lock_store.bucket
    retention = client.get_object_retention(Bucket=bucket, Key=clip.storage_key)["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    assert abs(retention["RetainUntilDate"].timestamp() - clip.retain_until.timestamp()) < 1
    clip.refresh_from_db()
    assert clip.object_locked_at is not None and clip.object_lock_until == clip.retain_until
    with pytest.raises(StorageError):  # not even the application's own key deletes it early
        lock_store.purge(clip.storage_key)

    api = api_client(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/clips/{clip.pk}/hold", {"reason": "case"}, format="json")
    assert client.get_object_legal_hold(Bucket=bucket, Key=clip.storage_key)["LegalHold"]["Status"] == "ON"
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(f"/api/v1/clips/{clip.pk}/hold", {"reason": "case closed"}, format="json")
    assert client.get_object_legal_hold(Bucket=bucket, Key=clip.storage_key)["LegalHold"]["Status"] == "OFF"
    assert object_lock_sweep.delay().get() == 0  # done once


def test_object_lock_holds_what_is_kept_indefinitely(clerk, make_clip, lock_store, django_capture_on_commit_callbacks):
    clip = make_clip(store=lock_store)
    client, bucket = lock_store.client, lock_store.bucket
    with django_capture_on_commit_callbacks(execute=True):
        api_client(clerk).patch(f"/api/v1/clips/{clip.pk}", {"category": "evidence"}, format="json")
    try:
        assert client.get_object_legal_hold(Bucket=bucket, Key=clip.storage_key)["LegalHold"]["Status"] == "ON"
    finally:
        client.put_object_legal_hold(Bucket=bucket, Key=clip.storage_key, LegalHold={"Status": "OFF"})


def test_no_object_lock_on_disk_or_a_plain_bucket(make_clip, rec_disk):
    from apps.footage.records.services import clips_object_lock_sweep

    make_clip(store=rec_disk)
    assert clips_object_lock_sweep() == 0
