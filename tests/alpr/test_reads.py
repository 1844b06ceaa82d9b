"""Reads from plate readers: stored once, validated as a batch, images checked, matched at ingest."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from apps.alpr.models import Hit, Read, ReadCount
from tests.alpr.conftest import POLE, a_read, console_listener, enroll, image_b64, post_reads
from tests.briefings.conftest import jpeg
from tests.conftest import ROLES
from tests.helpers import committing_client, error_code

pytestmark = pytest.mark.django_db


def test_a_batch_is_stored_once_per_read_id(reader_api, reader):
    reads = [a_read("abc-1 23"), a_read("7XYZ001")]
    first = post_reads(reader_api, reads)
    assert first.status_code == 200, first.content
    assert first.json() == {"accepted": 2, "duplicates": 0, "hits": []}
    again = post_reads(reader_api, [*reads, a_read("NEW0001")])
    assert again.json() == {"accepted": 1, "duplicates": 2, "hits": []}
    assert Read.objects.filter(reader=reader).count() == 3
    stored = Read.objects.get(read_id=reads[0]["read_id"])
    assert stored.plate_normalized == "ABC123"
    # no location sent: the fixed reader's registered place
    assert (stored.lat, stored.lon) == (POLE["lat"], POLE["lon"])
    assert ReadCount.objects.get(day=timezone.now().date()).received == 3


def test_the_same_read_id_twice_in_one_batch_is_one_read(reader_api):
    read = a_read()
    response = post_reads(reader_api, [read, dict(read)])
    assert response.json()["accepted"] == 1 and response.json()["duplicates"] == 1


def test_read_ids_are_per_reader(reader_api):
    read = a_read()
    post_reads(reader_api, [read])
    _, token = enroll()
    other = post_reads(committing_client(token=token), [read])
    assert other.json()["accepted"] == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"plate": "--"},
        {"plate": "A" * 17},
        {"confidence": 1.5},
        {"read_at": "yesterday"},
        {"read_at": "future"},
        {"read_at": "no zone"},
        {"read_at": "0001-01-01T00:30:00+01:00"},  # year 0 in UTC
        {"read_at": "1999-12-31T23:00:00Z"},  # the reader's clock is wrong
        {"read_at": "2000-01-01T01:00:00+02:00"},  # 1999 in UTC
        {"plate_state": "California"},
        {"location": {"lat": 200, "lon": 0}},
        {"candidates": [{"plate": ""}]},
        {"image": "not base64!"},
        {"read_id": 5},
        {"read_id": ""},
        {"confidence": True},
        {"heading": 400},
        {"location": "40,-74"},
        {"location": {"lat": 40}},
        {"vehicle": {"year": "new"}},
        {"vehicle": "Honda"},
        {"candidates": "ABC"},
        {"candidates": [{"plate": "A"}] * 21},
        {"image": 12},
        # numbers written as text, as nowhere else in the API: were stored (lat 40.0 from "4_0")
        {"confidence": "0.5"},
        {"heading": "1_0"},
        {"location": {"lat": "4_0", "lon": "-7_5"}},
        {"candidates": [{"plate": "ABC1234", "confidence": "0.2"}]},
        # a lone surrogate (JSON's "\ud800"): no UTF-8 for it. Stored, every answer naming the read
        # was a 500 (searches, hits, the briefing made from it); in an id, the batch itself
        {"read_id": "R-\ud800"},
        {"plate": "ABC\udfff1234"},
        {"vehicle": {"make": "Toyota\ud800"}},
        {"candidates": [{"plate": "ABC\ud8001234"}]},
    ],
)
def test_one_bad_read_refuses_the_whole_batch_naming_it(reader_api, bad):
    if bad == {"read_at": "future"}:
        bad = {"read_at": (timezone.now() + timedelta(days=2)).isoformat()}
    if bad == {"read_at": "no zone"}:  # a reader writing local time: never guessed as UTC
        bad = {"read_at": (timezone.now() - timedelta(minutes=5)).replace(tzinfo=None).isoformat()}
    reads = [a_read(), a_read(**bad), a_read()]
    response = post_reads(reader_api, reads)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert any(name.startswith("reads.1.") for name in response.json()["error"]["fields"])
    assert Read.objects.count() == 0


def test_the_year_2000_is_reckoned_in_utc(reader_api):
    response = post_reads(reader_api, [a_read(read_at="1999-12-31T23:00:00-02:00")])  # 2000 in UTC
    assert response.status_code == 200, response.content
    assert Read.objects.get().read_at.year == 2000


@pytest.mark.parametrize("body", [{}, {"reads": []}, {"reads": "x"}, {"reads": [{}] * 501}, [1, 2], {"reads": [1]}])
def test_batches_of_1_to_500(reader_api, body):
    response = reader_api.post("/api/v1/plate-reads", body, format="json")
    assert response.status_code == 400
    assert Read.objects.count() == 0


def test_an_image_that_is_not_a_jpeg_is_refused(reader_api):
    png = io.BytesIO()
    Image.new("RGB", (40, 20)).save(png, "PNG")
    response = post_reads(reader_api, [a_read(image=base64.b64encode(png.getvalue()).decode())])
    assert response.status_code == 400
    assert "reads.0.image" in response.json()["error"]["fields"]
    truncated = base64.b64encode(jpeg()[:200]).decode()
    assert post_reads(reader_api, [a_read(image=truncated)]).status_code == 400
    assert Read.objects.count() == 0


def test_a_jpeg_is_kept_without_its_metadata_with_its_sha256(reader_api, client_for, operator):
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x010E] = "GPS 40.7128 -74.0060"  # ImageDescription
    comment = b"Unit 12 parked at Dr. Diaz's house"  # a JPEG comment (COM segment) is metadata too
    response = post_reads(reader_api, [a_read(image=image_b64(exif=exif.tobytes(), comment=comment))])
    assert response.status_code == 200
    read = Read.objects.get()
    assert read.image_sha256 and read.image_size
    image = client_for(operator).get(f"/api/v1/plate-reads/{read.pk}/image")
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    data = b"".join(image.streaming_content)
    import hashlib

    assert hashlib.sha256(data).hexdigest() == read.image_sha256
    assert b"SecretCam" not in data and b"GPS 40.7128" not in data and comment not in data
    assert not Image.open(io.BytesIO(data)).getexif()


@pytest.mark.parametrize("role", ROLES)
def test_only_plate_readers_post_reads(role, personas, client_for):
    response = post_reads(client_for(personas[role]), [a_read()])
    assert response.status_code == 403
    assert Read.objects.count() == 0


def test_other_devices_and_strangers_cannot_post_reads(anon):
    _, token = enroll(kind="bodycam", location=None)
    assert post_reads(committing_client(token=token), [a_read()]).status_code == 403
    assert post_reads(anon, [a_read()]).status_code == 401
    assert post_reads(committing_client(token="rtd_bogus"), [a_read()]).status_code == 401


def test_a_plate_reader_declares_no_clip(reader, reader_api):
    """It records no video: a clip declared by it was stored as evidence from its pole."""
    from apps.footage.models import Clip

    now = timezone.now()
    response = reader_api.post(
        "/api/v1/clips",
        {
            "recording_id": "pole-clip",
            "started_at": (now - timedelta(minutes=1)).isoformat(),
            "ended_at": now.isoformat(),
            "size_bytes": 10,
            "sha256": "a" * 64,
            "content_type": "video/mp4",
            "trigger": "auto",
        },
        format="json",
    )
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "forbidden"
    assert not Clip.objects.filter(device=reader).exists()


def test_a_revoked_reader_is_refused(reader, reader_api, it_user):
    from apps.devices.services import device_revoke

    device_revoke(device=reader, actor=it_user)
    assert post_reads(reader_api, [a_read()]).status_code == 401


# Matching ------------------------------------------------------------------------------------


def _hit(api, response):
    assert response.status_code == 200, response.content
    [hit_id] = response.json()["hits"]
    return api.get(f"/api/v1/hits/{hit_id}").json()


def test_an_exact_read_hits_and_reaches_the_console_at_once(reader_api, stolen, client_for, operator):
    next_event = console_listener()
    response = post_reads(reader_api, [a_read("abc 1234", plate_state="CA"), a_read("NOPE999")])
    hit = _hit(client_for(operator), response)
    assert hit["match"] == "exact" and hit["state"] == "new"
    assert hit["entry"]["id"] == stolen["entry"]["id"]
    assert hit["hotlist"] == {
        "id": stolen["hotlist"]["id"],
        "name": "NCIC stolen",
        "source": "ncic",
        "priority": 90,
    }
    assert hit["read"]["plate_normalized"] == "ABC1234" and hit["read"]["hits"] == [hit["id"]]
    event = next_event()
    assert event["type"] == "hit.new"
    assert event["hit"]["id"] == hit["id"]
    assert event["hit"]["read"]["plate"] == "abc 1234"


def test_a_look_alike_read_is_a_similar_hit(reader_api, stolen, client_for, operator):
    # O for 0? no: the entry ABC1234 folds to A8C1234; a camera reading "A8C1Z34" folds the same
    hit = _hit(client_for(operator), post_reads(reader_api, [a_read("A8C1Z34")]))
    assert hit["match"] == "similar"


def test_a_candidate_hits(reader_api, stolen, client_for, operator):
    read = a_read("XBC1234", candidates=[{"plate": "WBC1284"}, {"plate": "ABC1234", "confidence": 0.4}])
    hit = _hit(client_for(operator), post_reads(reader_api, [read]))
    assert hit["match"] == "candidate"


def test_different_states_never_hit(reader_api, stolen):
    assert post_reads(reader_api, [a_read("ABC1234", plate_state="NV")]).json()["hits"] == []
    # no state on the read: it may be the car
    assert len(post_reads(reader_api, [a_read("ABC1234")]).json()["hits"]) == 1


def test_expired_and_removed_entries_never_hit(reader_api, client_for, operator):
    from apps.alpr.models import Entry

    api = client_for(operator)
    hotlist = api.post("/api/v1/hotlists", {"name": "Local BOLO", "source": "local"}, format="json").json()
    soon = (timezone.now() + timedelta(days=1)).isoformat()
    entry = api.post(
        f"/api/v1/hotlists/{hotlist['id']}/entries",
        {"plate": "EXP0001", "reason": "BOLO", "expires_at": soon},
        format="json",
    ).json()
    gone = api.post(
        f"/api/v1/hotlists/{hotlist['id']}/entries", {"plate": "GONE001", "reason": "BOLO", "expires_at": soon}
    ).json()
    assert api.delete(f"/api/v1/hotlists/{hotlist['id']}/entries/{gone['id']}").status_code == 204
    Entry.objects.filter(pk=entry["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert post_reads(reader_api, [a_read("EXP0001"), a_read("GONE001")]).json()["hits"] == []
    assert Hit.objects.count() == 0


def test_one_read_hits_every_list_it_is_on(reader_api, stolen, client_for, operator):
    api = client_for(operator)
    state = api.post("/api/v1/hotlists", {"name": "State", "source": "state"}, format="json").json()
    api.post(f"/api/v1/hotlists/{state['id']}/entries", {"plate": "ABC1234", "reason": "Warrant"}, format="json")
    response = post_reads(reader_api, [a_read("ABC1234")])
    assert len(response.json()["hits"]) == 2
    assert post_reads(reader_api, [a_read("ABC1234")]).json()["hits"] != response.json()["hits"]


def test_a_duplicate_read_makes_no_second_hit(reader_api, stolen):
    read = a_read("ABC1234")
    assert len(post_reads(reader_api, [read]).json()["hits"]) == 1
    assert post_reads(reader_api, [read]).json() == {"accepted": 0, "duplicates": 1, "hits": []}
    assert Hit.objects.count() == 1


def test_an_entry_added_later_finds_the_reads_still_kept(reader_api, client_for, operator):
    post_reads(reader_api, [a_read("LATE123"), a_read("1ATE123"), a_read("OTHER12")])
    api = client_for(operator)
    hotlist = api.post("/api/v1/hotlists", {"name": "NCIC", "source": "ncic"}, format="json").json()
    api.post(f"/api/v1/hotlists/{hotlist['id']}/entries", {"plate": "LATE123", "reason": "Stolen"}, format="json")
    hits = api.get("/api/v1/hits").json()["results"]
    assert sorted((h["match"], h["historical"]) for h in hits) == [("exact", True), ("similar", True)]
    assert Read.objects.filter(has_hit=True).count() == 2


def test_a_store_that_fails_is_503_and_the_batch_is_not_kept(reader_api, store_fails):
    store_fails()
    response = post_reads(reader_api, [a_read("ABC1234"), a_read("XYZ9876", image=image_b64())])
    assert response.status_code == 503 and error_code(response) == "storage_unavailable"
    assert int(response["Retry-After"]) >= 1
    assert Read.objects.count() == 0 and Hit.objects.count() == 0


def test_a_batch_the_store_refuses_halfway_leaves_no_image_behind(reader_api, settings, tmp_path):
    """The first read's image is stored, the second's cannot be (its day's directory cannot be
    made): a 503, no read kept, and the first image deleted again, not left in the store with no
    read pointing to it, out of reach of retention and purge."""
    settings.RTCC_S3_BUCKET = None
    settings.RTCC_STORAGE_DIR = root = tmp_path / "objects"
    now = timezone.now()
    (root / "alpr" / "reads").mkdir(parents=True)
    (root / "alpr" / "reads" / f"{now:%Y%m%d}").write_bytes(b"")  # a file where today's directory goes
    yesterday = (now - timedelta(days=1)).isoformat()
    reads = [a_read("ABC1234", image=image_b64(), read_at=yesterday), a_read("XYZ9876", image=image_b64())]
    response = post_reads(reader_api, reads)
    assert response.status_code == 503 and error_code(response) == "storage_unavailable"
    assert Read.objects.count() == 0
    assert [p.name for p in (root / "alpr" / "reads").rglob("*") if p.is_file() and p.suffix == ".jpg"] == []
    assert (root / "alpr" / "reads" / f"{now - timedelta(days=1):%Y%m%d}").is_dir()  # the first image was there

    (root / "alpr" / "reads" / f"{now:%Y%m%d}").unlink()  # the store is back: the reader sends the batch again
    assert post_reads(reader_api, reads).json()["accepted"] == 2
    assert len([p for p in (root / "alpr" / "reads").rglob("*.jpg")]) == 2


def test_a_read_image_the_store_cannot_give_back_is_503(reader_api, client_for, operator, store_fails):
    assert post_reads(reader_api, [a_read(image=image_b64())]).status_code == 200
    store_fails()
    response = client_for(operator).get(f"/api/v1/plate-reads/{Read.objects.get().pk}/image")
    assert response.status_code == 503 and error_code(response) == "storage_unavailable"


def test_a_batch_of_full_size_overview_images_fits_the_body_limit(reader_api):
    """30 reads, each with a 160 KB overview image (about 6.5 MB of JSON): accepted whole. At the
    general 1 MiB limit such a batch, which the contract allows, was a 413."""
    import io
    import random

    from PIL import Image

    rng = random.Random(7)
    noise = Image.frombytes("RGB", (640, 480), bytes(rng.getrandbits(8) for _ in range(640 * 480 * 3)))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=60)
    image = base64.b64encode(out.getvalue()).decode()
    assert 100_000 < len(out.getvalue()) < 400_000
    response = post_reads(reader_api, [a_read(f"BIG{n:04d}", image=image) for n in range(30)])
    assert response.status_code == 200, response.content[:300]
    assert response.json()["accepted"] == 30
    assert Read.objects.exclude(image_key="").count() == 30


def test_an_image_in_lines_of_76_characters_is_accepted(reader_api):
    """Many encoders (MIME, `base64` on the command line) break base64 into lines."""
    from tests.alpr.conftest import image_b64

    flat = image_b64()
    wrapped = "\r\n".join(flat[i : i + 76] for i in range(0, len(flat), 76))
    response = post_reads(reader_api, [a_read("ABC1234", image=wrapped)])
    assert response.status_code == 200, response.content
    assert Read.objects.get().image_key
