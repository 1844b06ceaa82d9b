"""Fixtures for leads: committing clients (after-commit pushes run), a second operator, payloads."""

from __future__ import annotations

import pytest

from tests.briefings.conftest import jpeg, make_phone, upload  # noqa: F401 - fixtures
from tests.footage.records_support import make_clip, rec_device  # noqa: F401 - fixtures

SCENE = {"lat": 40.7128, "lon": -74.0060}


@pytest.fixture
def commit_per_request() -> bool:
    return True


@pytest.fixture
def other_operator(make_user):
    return make_user("operator", username="operator2")


@pytest.fixture
def probe(client_for, operator):
    response = upload(client_for(operator), jpeg())
    assert response.status_code == 201, response.content
    return response.json()["id"]


def fr_payload(probe_id: str, **fields) -> dict:
    return {
        "kind": "facial_recognition",
        "case_number": "2026-000123",
        "summary": "Still from a store camera, robbery on Main St",
        "probe_media": probe_id,
        "search_system": "Statewide mugshot FR v4.2",
        "candidates": [{"rank": 1, "score": 0.91, "name": "John Roe", "record_id": "SID-778"}, {"rank": 2}],
        **fields,
    }


def nibin_payload(**fields) -> dict:
    return {
        "kind": "nibin",
        "case_number": "2026-000456",
        "summary": "Same 9 mm pistol at two shootings",
        "nibin_lead_number": "NIBIN-24-00017",
        "events": [
            {
                "case_number": "2026-000456",
                "occurred_at": "2026-03-01T22:15:00Z",
                "location": SCENE,
                "items": [{"kind": "casing", "calibre": "9mm"}],
            },
            {
                "case_number": "2026-000789",
                "occurred_at": "2026-03-09T01:40:00Z",
                "location": {"lat": 40.7306, "lon": -73.9866},
                "items": [{"kind": "casing", "calibre": "9mm"}, {"kind": "bullet"}],
            },
        ],
        **fields,
    }
