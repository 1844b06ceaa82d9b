"""The schema describes the counting answers as they are served (they were shapeless objects;
the case manifest's is checked with its clips in tests/footage/test_records_manifest.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_schema_names_every_key_of_the_report_and_the_statistics(anon, client_for, operator):
    schemas = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]

    def keys(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    report = anon.get("/api/v1/transparency").json()
    assert set(report) == keys("TransparencyOut")
    assert report["months"] and set(report["months"][0]) == keys("TransparencyMonth")
    assert set(report["leads"]["nibin"]) == keys("LeadCounts")
    stats = client_for(operator).get("/api/v1/stats/outcomes").json()
    assert set(stats) == keys("OutcomeStatsOut")
    assert stats["series"] and set(stats["series"][0]) == keys("OutcomeStatsPeriod")
