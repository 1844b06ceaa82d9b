"""Plate reads, hits and plate searches reach the transparency report (never a plate), and a
lead's related evidence lists the plate reads near its events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.alpr.conftest import POLE, a_read, enroll, post_reads, stolen  # noqa: F401 - fixtures
from tests.helpers import committing_client
from tests.leads.conftest import nibin_payload

pytestmark = pytest.mark.django_db


def test_reads_hits_and_searches_are_counted(anon, client_for, operator, stolen):  # noqa: F811
    before = anon.get("/api/v1/transparency").json()
    _device, token = enroll()
    reader = committing_client(token=token)
    response = post_reads(reader, [a_read("ABC1234", plate_state="CA"), a_read("QQQ111"), a_read("RRR222")])
    assert response.status_code == 200, response.content
    [hit_id] = response.json()["hits"]
    assert client_for(operator).post(f"/api/v1/hits/{hit_id}/confirm", {}, format="json").status_code == 200
    search = client_for(operator).get("/api/v1/plate-reads?plate=ABC*&reason=Stolen+car&case_number=24-0001")
    assert search.status_code == 200
    after = anon.get("/api/v1/transparency").json()
    assert after["plate_reads"]["received"] - before["plate_reads"]["received"] == 3
    assert after["hits"]["new"] - before["hits"]["new"] == 1
    assert after["hits"]["confirmed"] - before["hits"]["confirmed"] == 1
    assert after["plate_searches"] - before["plate_searches"] == 1
    assert "ABC1234" not in json.dumps(after) and "QQQ111" not in json.dumps(after)


def test_related_evidence_lists_plate_reads_near_an_event(client_for, operator):
    _device, token = enroll()
    reader = committing_client(token=token)
    now = timezone.now()
    near = a_read("NEAR001", read_at=(now - timedelta(minutes=30)).isoformat(), location=POLE)
    late = a_read("LATE001", read_at=(now - timedelta(hours=3)).isoformat(), location=POLE)
    far = a_read("FAR0001", location={"lat": POLE["lat"] + 0.02, "lon": POLE["lon"]})
    assert post_reads(reader, [near, late, far]).status_code == 200
    payload = nibin_payload()
    payload["events"][0].update(occurred_at=now.isoformat(), location=POLE)
    lead = client_for(operator).post("/api/v1/leads", payload, format="json").json()
    body = client_for(operator).get(f"/api/v1/leads/{lead['id']}/related").json()
    assert [r["plate"] for r in body["plate_reads"]] == ["NEAR001"]
    assert body["plate_reads"][0]["events"] == [0]
    wider = client_for(operator).get(f"/api/v1/leads/{lead['id']}/related?hours=4").json()
    assert sorted(r["plate"] for r in wider["plate_reads"]) == ["LATE001", "NEAR001"]


def test_an_assist_names_the_hit_it_came_from(client_for, operator, stolen):  # noqa: F811
    _device, token = enroll()
    [hit_id] = post_reads(committing_client(token=token), [a_read("ABC1234", plate_state="CA")]).json()["hits"]
    api = client_for(operator)
    response = api.post("/api/v1/assists", {"outcomes": ["recovered_vehicle"], "hit": hit_id}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["hit"] == hit_id
