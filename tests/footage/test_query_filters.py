"""Footage's query strings through filter serializers: what a caller sees for odd values, and the
download's custody entry (now written by a footage service) carrying the address it came from."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.footage.records_support import *  # noqa: F403 - the records fixtures
from tests.helpers import api_client, error_code


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": "²"}, "page"),  # a digit to str.isdigit, not to int()
        ({"page": "9" * 30}, "page"),
        ({"near": "nan,0,100"}, "near"),
        ({"lat": "40", "lon": "inf", "radius_m": "100"}, "lon"),
        ({"near": "40,-74,100", "lat": "40"}, "near"),
        ({"category": ","}, "category"),
        ({"legal_hold": "yes"}, "legal_hold"),
        ({"colour": "red", "size": "xl"}, "colour"),
        # times Python cannot hold in UTC (years 0 and 10000), or hardly use (a date in year 1)
        ({"from": "0001-01-01T00:30:00+01:00"}, "from"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31T23:00:00-05:00"}, "to"),
        ({"to": "9999-12-31"}, "to"),
        # a time without a zone: a clerk's local time read as UTC would search hours off
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"to": "2026-01-01 10:00:00"}, "to"),
    ],
)
def test_an_unusable_search_parameter_is_a_400_naming_it(clerk, make_clip, query, field):
    make_clip()
    response = api_client(clerk).get("/api/v1/clips", query)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert field in response.json()["error"]["fields"]


def test_search_reads_offsets_and_dates_as_meant_and_refuses_a_repeated_parameter(
    clerk, make_clip, officer, other_officer
):
    mine = make_clip(officer)
    make_clip(other_officer)
    api = api_client(clerk)
    started = mine.started_at.isoformat()
    assert "+" in started
    # an unencoded "+" arrives as a space; a bare date is its midnight
    window = f"from={started.replace('+', '%20')}&to=2999-01-01&officer={officer.pk}"
    response = api.get(f"/api/v1/clips?{window}&legal_hold=FALSE")
    assert response.status_code == 200, response.content
    assert [c["id"] for c in response.json()["results"]] == [str(mine.pk)]
    # a parameter given twice: neither value silently dropped (the last one used to count)
    response = api.get(f"/api/v1/clips?{window}&officer={other_officer.pk}")
    assert response.status_code == 400 and error_code(response) == "invalid_query"
    assert list(response.json()["error"]["fields"]) == ["officer"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("reason=review&colour=red", "colour"),
        ("reason=review&format=pdf", "format"),
        ("reason=%20&format=csv", "reason"),
        ("format=json", "reason"),
    ],
)
def test_an_unusable_manifest_parameter_is_a_400_naming_it(clerk, make_clip, query, field):
    make_clip(case_number="2026-0007")
    response = api_client(clerk).get(f"/api/v1/cases/2026-0007/manifest?{query}")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert field in response.json()["error"]["fields"]


def test_a_download_records_the_address_it_came_from(make_clip, officer, clerk, rec_disk):
    clip = make_clip(officer, store=rec_disk, data=b"evidence" * 64)
    api = api_client(clerk)
    link = api.post(f"/api/v1/clips/{clip.pk}/access", {"reason": "case 2026-8"}, format="json").json()
    served = api_client().get(urlsplit(link["url"]).path, REMOTE_ADDR="198.51.100.23")
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"evidence" * 64
    trail = api.get(f"/api/v1/clips/{clip.pk}/custody").json()["results"]
    download = next(event for event in trail if event["action"] == "clip.download")
    assert download["source_ip"] == "198.51.100.23" and download["actor"] == str(clerk.pk)
    detail = download["detail"]
    assert {k: detail[k] for k in ("range", "bytes", "link")} == {"range": None, "bytes": 512, "link": "signed"}
    assert len(detail["link_id"]) == 32  # which link: its later ranges are the same download
