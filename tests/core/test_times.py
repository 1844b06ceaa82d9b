"""Times as RFC 3339 writes them, in bodies and in query strings: a lower-case `z` (RFC 3339
section 5.6 allows it) is UTC, like `Z`."""

from __future__ import annotations

import pytest

from apps.outcomes.models import Assist
from tests.alpr.conftest import a_read, enroll, post_reads
from tests.helpers import committing_client

pytestmark = pytest.mark.django_db


def test_a_lower_case_z_is_utc_in_a_body(client_for, operator):
    response = client_for(operator).post(
        "/api/v1/assists", {"outcomes": ["arrest"], "occurred_at": "2026-03-01t22:15:00z"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Assist.objects.get().occurred_at.isoformat() == "2026-03-01T22:15:00+00:00"


def test_a_lower_case_z_is_utc_in_a_plate_read(db):
    _device, token = enroll()
    read = a_read()
    read["read_at"] = read["read_at"].split("+")[0] + "z"
    response = post_reads(committing_client(token=token), [read])
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.content


@pytest.mark.parametrize("url", ["/api/v1/transparency", "/api/v1/stats/outcomes"])
def test_a_lower_case_z_is_utc_in_a_query(client_for, clerk, url):
    response = client_for(clerk).get(url, {"from": "2026-03-01T00:00:00z", "to": "2026-03-02T00:00:00Z"})
    assert response.status_code == 200, response.content
