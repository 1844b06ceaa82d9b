"""Where has this plate been: wildcards, time window, area; reason and case number required, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from tests.alpr.conftest import POLE, a_read, post_reads
from tests.conftest import ROLES
from tests.helpers import error_code

pytestmark = pytest.mark.django_db
URL = "/api/v1/plate-reads"
WHY = "reason=stolen+car+follow-up&case_number=24-0042"
WHY_DATA = {"reason": "stolen car follow-up", "case_number": "24-0042"}


@pytest.fixture
def reads(reader_api):
    now = timezone.now()
    far = {"lat": POLE["lat"] + 0.1, "lon": POLE["lon"]}  # ~11 km north
    batch = [
        a_read("ABC1234", read_at=(now - timedelta(hours=1)).isoformat()),
        a_read("ABC1294", read_at=(now - timedelta(hours=2)).isoformat(), location=far),
        a_read("XABC123", read_at=(now - timedelta(days=3)).isoformat()),
        a_read("ZZZ0001", read_at=(now - timedelta(minutes=5)).isoformat()),
    ]
    assert post_reads(reader_api, batch).json()["accepted"] == 4
    return batch


def plates_of(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(r["plate_normalized"] for r in response.json()["results"])


def test_wildcards(client_for, operator, reads):
    api = client_for(operator)
    assert plates_of(api.get(URL, {"plate": "ABC12*", **WHY_DATA})) == ["ABC1234", "ABC1294"]
    assert plates_of(api.get(URL, {"plate": "ABC12?4", **WHY_DATA})) == ["ABC1234", "ABC1294"]
    assert plates_of(api.get(URL, {"plate": "*ABC123*", **WHY_DATA})) == ["ABC1234", "XABC123"]
    assert plates_of(api.get(URL, {"plate": "abc-1234", **WHY_DATA})) == ["ABC1234"]
    assert plates_of(api.get(URL, {"plate": "ABC1?3", **WHY_DATA})) == []
    assert len(plates_of(api.get(URL, {"plate": "*", **WHY_DATA}))) == 4
    assert plates_of(api.get(URL, {"plate": "???????", **WHY_DATA})) == ["ABC1234", "ABC1294", "XABC123", "ZZZ0001"]


def test_time_window_and_area(client_for, operator, reads):
    api = client_for(operator)
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert plates_of(api.get(f"/api/v1/plate-reads?plate=*ABC*&from={since}&{WHY}")) == ["ABC1234", "ABC1294"]
    until = (timezone.now() - timedelta(hours=1, minutes=30)).isoformat().replace("+00:00", "Z")
    assert plates_of(api.get(f"/api/v1/plate-reads?plate=*ABC*&to={until}&{WHY}")) == ["ABC1294", "XABC123"]
    near = f"{POLE['lat']},{POLE['lon']},2000"
    assert plates_of(api.get(f"/api/v1/plate-reads?plate=*ABC*&near={near}&{WHY}")) == ["ABC1234", "XABC123"]
    # a bare date is its midnight (UTC), as for every parameter that filters by time
    day = (timezone.now() - timedelta(days=2)).date().isoformat()
    assert plates_of(api.get(f"/api/v1/plate-reads?plate=*ABC*&from={day}&{WHY}")) == ["ABC1234", "ABC1294"]
    assert plates_of(api.get(f"/api/v1/plate-reads?plate=*ABC*&to={day}&{WHY}")) == ["XABC123"]
    read = api.get(URL, {"plate": "ZZZ0001", **WHY_DATA}).json()["results"][0]
    assert set(read) >= {
        "id",
        "reader",
        "read_id",
        "plate",
        "plate_normalized",
        "plate_state",
        "confidence",
        "read_at",
        "received_at",
        "location",
        "image_url",
        "hits",
    }
    assert read["location"] == POLE and read["image_url"] is None and read["hits"] == []


def test_every_search_is_audited_with_its_reason(client_for, clerk, reads):
    api = client_for(clerk)
    api.get(URL, {"plate": "ABC*", **WHY_DATA})
    event = AuditEvent.objects.get(action="plate_read.search")
    assert event.actor_id == str(clerk.pk)
    assert event.details["plate"] == "ABC*" and event.details["reason"] == "stolen car follow-up"
    assert event.details["case_number"] == "24-0042" and event.details["results"] == 2


@pytest.mark.parametrize(
    "query",
    [
        "plate=ABC*",
        "plate=ABC*&reason=x",
        "plate=ABC*&case_number=1",
        f"plate=ABC*&from=yesterday&{WHY}",
        f"plate=ABC*&near=1,2&{WHY}",
        f"plate=ABC*&near=91,0,100&{WHY}",
        f"plate=-- &{WHY}",
        f"plate=ABC*&colour=red&{WHY}",
        f"from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z&{WHY}",
        f"from=0001-01-01T00:30:00%2B01:00&{WHY}",  # year 0 in UTC
        f"to=9999-12-31T23:00:00-05:00&{WHY}",  # year 10000 in UTC
    ],
)
def test_bad_searches_are_400_and_not_run(client_for, operator, reads, query):
    response = client_for(operator).get(f"/api/v1/plate-reads?{query}")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert not AuditEvent.objects.filter(action="plate_read.search").exists()


@pytest.mark.parametrize("role", ROLES)
def test_search_is_for_operators_and_clerks(role, personas, client_for, reads):
    response = client_for(personas[role]).get(f"/api/v1/plate-reads?plate=ABC*&{WHY}")
    assert response.status_code == (200 if role in ("operator", "clerk") else 403)


def test_strangers_and_readers_cannot_search(anon, reader_api, reads):
    assert anon.get(f"/api/v1/plate-reads?plate=ABC*&{WHY}").status_code == 401
    assert reader_api.get(URL, {"plate": "ABC*", **WHY_DATA}).status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_read_images_for_operators_and_clerks(role, personas, client_for, reader_api):
    from tests.alpr.conftest import image_b64

    post_reads(reader_api, [a_read("IMG0001", image=image_b64())])
    from apps.alpr.models import Read

    read = Read.objects.get()
    response = client_for(personas[role]).get(f"/api/v1/plate-reads/{read.pk}/image")
    assert response.status_code == (200 if role in ("operator", "clerk") else 403)


def test_an_unknown_read_image_is_404(client_for, operator, reads):
    from apps.alpr.models import Read

    api = client_for(operator)
    assert api.get("/api/v1/plate-reads/6f1b1d3a-0000-4000-8000-000000000000/image").status_code == 404
    no_image = Read.objects.filter(image_key="").first()
    assert api.get(f"/api/v1/plate-reads/{no_image.pk}/image").status_code == 404
    assert api.get("/api/v1/plate-reads/not-a-uuid/image").status_code == 404
