"""Vendor adapters: an OpenALPR/Rekor agent's alpr_group and a Plate Recognizer Stream webhook
become the same reads (sample payloads as the vendors document them)."""

from __future__ import annotations

import time

import pytest

from apps.alpr.models import Read
from tests.alpr.conftest import image_b64
from tests.conftest import ROLES

pytestmark = pytest.mark.django_db


def alpr_group(**fields) -> dict:
    now_ms = int(time.time() * 1000) - 5000
    return {
        "version": 2,
        "data_type": "alpr_group",
        "epoch_start": now_ms,
        "epoch_end": now_ms + 2900,
        "agent_type": "alprd",
        "agent_uid": "Y" * 40,
        "camera_id": 1234,
        "country": "us",
        "uuids": [f"{'Y' * 40}-1234-{now_ms}", f"{'Y' * 40}-1234-{now_ms + 40}"],
        "best_uuid": f"{'Y' * 40}-1234-{now_ms}",
        "best_plate_number": "ABC1234",
        "best_confidence": 92.94,
        "best_region": "us-ca",
        "best_region_confidence": 57.2,
        "gps_latitude": 37.635986328125,
        "gps_longitude": -122.0,
        "travel_direction": 271.5,
        "is_parked": False,
        "candidates": [
            {"plate": "ABC1234", "confidence": 92.94, "matches_template": 0},
            {"plate": "A8C1234", "confidence": 80.8, "matches_template": 0},
        ],
        "best_plate": {"plate": "ABC1234", "confidence": 92.94, "plate_crop_jpeg": image_b64()},
        "vehicle": {
            "color": [{"name": "blue", "confidence": 88.1}],
            "make": [{"name": "toyota", "confidence": 71.0}],
            "make_model": [{"name": "toyota_camry", "confidence": 60.0}],
            "body_type": [{"name": "sedan-standard", "confidence": 90.0}],
        },
        **fields,
    }


def stream_webhook(**fields) -> dict:
    return {
        "hook": {"target": "https://rtcc.example/api/v1/plate-reads/platerecognizer", "id": "camera-1"},
        "data": {
            "camera_id": "camera-1",
            "filename": "camera-1_screenshots/21-09-29/05-56-13.606935.jpg",
            "timestamp": "2026-11-30T05:56:13.606935Z",
            "timestamp_local": "2026-11-30 05:56:13.606935+00:00",
            "results": [
                {
                    "box": {"xmin": 460, "ymin": 57, "xmax": 557, "ymax": 82},
                    "plate": "abc1234",
                    "region": {"code": "us-ca", "score": 0.41},
                    "score": 0.839,
                    "dscore": 0.441,
                    "candidates": [{"plate": "abc1234", "score": 0.839}, {"plate": "abc1z34", "score": 0.7}],
                    "vehicle": {"score": 0.26, "type": "Sedan", "box": {"xmin": 387, "ymin": 23}},
                    "model_make": [{"make": "Toyota", "model": "Camry", "score": 0.4}],
                    "color": [{"color": "blue", "score": 0.67}],
                    "direction": 90,
                },
                {"plate": "xyz987", "region": {"code": "gb"}, "score": 0.9, "candidates": []},
            ],
        },
        **fields,
    }


def test_an_openalpr_group_is_a_read(reader_api, stolen, client_for, operator):
    response = reader_api.post("/api/v1/plate-reads/openalpr", alpr_group(), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1 and len(response.json()["hits"]) == 1
    read = Read.objects.get()
    assert read.plate_normalized == "ABC1234" and read.plate_state == "CA"
    assert read.confidence == pytest.approx(0.9294)
    assert (read.lat, read.lon) == (37.635986328125, -122.0) and read.heading == 271.5
    assert read.vehicle == {"make": "toyota", "model": "toyota_camry", "color": "blue", "type": "sedan-standard"}
    assert [c["plate"] for c in read.candidates] == ["A8C1234"]
    assert read.image_sha256
    # the agent retries: the same group is a duplicate
    again = reader_api.post("/api/v1/plate-reads/openalpr", alpr_group(best_uuid=read.read_id), format="json")
    assert again.json()["duplicates"] == 1


def test_openalpr_heartbeats_and_plate_results_are_ignored(reader_api):
    for body in [{"data_type": "heartbeat", "agent_uid": "Y"}, {"data_type": "alpr_results", "results": []}]:
        response = reader_api.post("/api/v1/plate-reads/openalpr", body, format="json")
        assert response.json() == {"accepted": 0, "duplicates": 0, "hits": []}
    assert Read.objects.count() == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"data_type": "nope"},
        {"best_plate_number": ""},
        {"epoch_start": "soon"},
        {"best_plate": {"plate_crop_jpeg": "x"}},
    ],
)
def test_a_bad_openalpr_group_is_400(reader_api, bad):
    body = alpr_group(**bad)
    if "best_plate_number" in bad:
        body["best_plate"] = {}
    response = reader_api.post("/api/v1/plate-reads/openalpr", body, format="json")
    assert response.status_code == 400, response.content
    assert Read.objects.count() == 0


@pytest.mark.parametrize("epoch", [1e17, -1e15, 1.5e300])
def test_an_openalpr_epoch_no_calendar_holds_is_400_not_a_500(reader_api, epoch):
    response = reader_api.post("/api/v1/plate-reads/openalpr", alpr_group(epoch_start=epoch), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"] == {"epoch_start": ["Out of range."]}
    assert Read.objects.count() == 0


@pytest.mark.parametrize("odd", [{"uuids": {"a": 1}}, {"uuids": 5}, {"candidates": 5}, {"candidates": {"p": 1}}])
def test_openalpr_lists_of_the_wrong_shape_are_ignored_not_a_500(reader_api, odd):
    """A field that should be a list and is not counts as none: the read is stored from the rest."""
    response = reader_api.post("/api/v1/plate-reads/openalpr", alpr_group(**odd, best_uuid="u-odd-1"), format="json")
    assert response.status_code == 200, response.content
    read = Read.objects.get(read_id="u-odd-1")  # the candidates, if any, from best_plate's list
    assert read.plate_normalized == "ABC1234" and all(c["plate"] for c in read.candidates)


HUGE = 10**400  # a whole number JSON may carry and no float holds


@pytest.mark.parametrize("odd", [{"best_confidence": HUGE}, {"travel_direction": HUGE}, {"travel_direction": True}])
def test_openalpr_numbers_no_float_holds_count_as_none(reader_api, odd):
    response = reader_api.post("/api/v1/plate-reads/openalpr", alpr_group(**odd, best_uuid="u-huge-1"), format="json")
    assert response.status_code == 200, response.content
    read = Read.objects.get(read_id="u-huge-1")
    assert read.heading is None if "travel_direction" in odd else read.confidence is None


def test_a_plate_recognizer_score_no_float_holds_counts_as_none(reader_api):
    body = stream_webhook()
    body["data"]["results"][0]["score"] = HUGE
    body["data"]["results"][0]["candidates"] = [{"plate": "ABC1235", "score": HUGE}]
    response = reader_api.post("/api/v1/plate-reads/platerecognizer", body, format="json")
    assert response.status_code == 200, response.content
    assert Read.objects.get(plate_normalized="ABC1234").confidence is None


def test_openalpr_odd_uuids_and_no_best_uuid_is_a_400_not_a_500(reader_api):
    response = reader_api.post("/api/v1/plate-reads/openalpr", alpr_group(best_uuid=None, uuids=5), format="json")
    assert response.status_code == 400, response.content
    assert Read.objects.count() == 0


def test_a_plate_recognizer_result_with_candidates_not_a_list_is_stored_without_them(reader_api):
    body = stream_webhook()
    body["data"]["results"][0]["candidates"] = 5
    response = reader_api.post("/api/v1/plate-reads/platerecognizer", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2


def test_a_plate_recognizer_webhook_is_reads(reader_api, stolen):
    response = reader_api.post("/api/v1/plate-reads/platerecognizer", stream_webhook(), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2 and len(response.json()["hits"]) == 1
    read = Read.objects.get(plate_normalized="ABC1234")
    assert read.plate_state == "CA" and read.confidence == pytest.approx(0.839)
    assert read.vehicle == {"make": "Toyota", "model": "Camry", "color": "blue", "type": "Sedan"}
    assert Read.objects.get(plate_normalized="XYZ987").plate_state == ""
    again = reader_api.post("/api/v1/plate-reads/platerecognizer", stream_webhook(), format="json")
    assert again.json() == {"accepted": 0, "duplicates": 2, "hits": []}


def test_a_plate_recognizer_camera_with_a_long_id_loses_no_read(reader_api):
    """The read's id is made of the camera's id, the time, the result's index and the plate; cut
    to 64 characters, every read of a camera with a long id was a "duplicate" of its first."""
    camera = "parking-structure-level-3-north-entrance-" + "x" * 40
    first = stream_webhook()
    first["data"]["camera_id"] = camera
    response = reader_api.post("/api/v1/plate-reads/platerecognizer", first, format="json")
    assert response.json()["accepted"] == 2, response.content
    later = stream_webhook()
    later["data"].update(camera_id=camera, timestamp="2026-11-30T05:57:02.118204Z")
    later["data"]["results"][0]["plate"] = "LNG2222"
    assert reader_api.post("/api/v1/plate-reads/platerecognizer", later, format="json").json()["accepted"] == 2
    again = reader_api.post("/api/v1/plate-reads/platerecognizer", later, format="json")
    assert again.json()["duplicates"] == 2  # the same webhook again is still a duplicate
    ids = list(Read.objects.values_list("read_id", flat=True))
    assert len(ids) == 4 and all(len(i) <= 64 and i.startswith("parking-structure") for i in ids)


def test_an_openalpr_list_of_groups_is_reads(reader_api):
    """The agent may post a list of alpr_groups (and heartbeats among them): the JSON parser
    refused every top-level array with a 400."""
    now_ms = int(time.time() * 1000) - 5000
    groups = [
        alpr_group(),
        {"data_type": "heartbeat", "agent_uid": "Y"},
        alpr_group(best_uuid=f"{'Y' * 40}-1234-{now_ms + 99}", best_plate_number="XYZ987"),
    ]
    response = reader_api.post("/api/v1/plate-reads/openalpr", groups, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2
    assert reader_api.post("/api/v1/plate-reads/openalpr", [], format="json").json()["accepted"] == 0
    assert reader_api.post("/api/v1/plate-reads/openalpr", [1], format="json").status_code == 400
    assert reader_api.post("/api/v1/plate-reads", [alpr_group()], format="json").status_code == 400  # objects only


@pytest.mark.parametrize("bad", [{"data": None}, {"data": {"results": "x"}}, {"data": {"results": [1]}}])
def test_a_bad_plate_recognizer_webhook_is_400(reader_api, bad):
    response = reader_api.post("/api/v1/plate-reads/platerecognizer", {**stream_webhook(), **bad}, format="json")
    assert response.status_code == 400
    assert Read.objects.count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_adapters_are_for_plate_readers_only(role, personas, client_for, anon):
    api = client_for(personas[role])
    assert api.post("/api/v1/plate-reads/openalpr", alpr_group(), format="json").status_code == 403
    assert api.post("/api/v1/plate-reads/platerecognizer", stream_webhook(), format="json").status_code == 403
    assert anon.post("/api/v1/plate-reads/openalpr", alpr_group(), format="json").status_code == 401
    assert Read.objects.count() == 0
