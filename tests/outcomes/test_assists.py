"""Assists (outcome codes, tools, links), suggested assists, statistics as JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from apps.outcomes.models import OUTCOME_CODES, Assist

pytestmark = pytest.mark.django_db


def log(api, **fields):
    response = api.post("/api/v1/assists", {"outcomes": ["arrest"], **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_an_assist_records_outcomes_tools_and_defaults(client_for, operator, officer):
    assist = log(
        client_for(operator),
        outcomes=["recovered_gun", "arrest"],
        tools=["alpr", "briefing"],
        case_number="2026-1",
        officer=str(officer.pk),
        notes="stolen car stopped",
    )
    assert set(assist) >= {
        "id",
        "outcomes",
        "tools",
        "case_number",
        "incident",
        "officer",
        "notes",
        "occurred_at",
        "created_by",
        "created_at",
    }
    assert assist["outcomes"] == ["recovered_gun", "arrest"] and assist["tools"] == ["alpr", "briefing"]
    assert assist["occurred_at"] and assist["created_by"] == str(operator.pk) and assist["incident"] is None
    minimal = log(client_for(operator))
    assert minimal["tools"] == [] and minimal["case_number"] == "" and minimal["notes"] == ""


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"outcomes": []},
        {"outcomes": ["caught_bad_guy"]},
        {"outcomes": ["arrest"], "tools": ["crystal_ball"]},
        {"outcomes": ["arrest"], "occurred_at": "yesterday"},
        {"outcomes": ["arrest"], "occurred_at": "2025-02-10T12:00:00"},  # no zone: never guessed
        {"outcomes": ["arrest"], "occurred_at": "2999-01-01T00:00:00Z"},
        {"outcomes": ["arrest"], "incident": "00000000-0000-0000-0000-000000000000"},
        {"outcomes": ["arrest"], "hit": "00000000-0000-4000-8000-000000000000"},  # no such hit
        {"outcomes": ["arrest"], "lead": "00000000-0000-4000-8000-000000000000"},
        {"outcomes": ["arrest"], "briefing": "00000000-0000-4000-8000-000000000000"},
        {"outcomes": "arrest"},
    ],
)
def test_bad_assists_are_400_and_store_nothing(client_for, operator, payload):
    response = client_for(operator).post("/api/v1/assists", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert not Assist.objects.exists()


def test_patch_changes_the_assist_and_its_counts(client_for, operator, clerk):
    api = client_for(operator)
    assist = log(api, outcomes=["arrest"], occurred_at="2025-02-10T12:00:00Z")
    stats = client_for(clerk).get("/api/v1/stats/outcomes?from=2025-01-01&to=2025-04-01&interval=month").json()
    assert [row["outcomes"]["arrest"] for row in stats["series"]] == [0, 1, 0]
    response = api.patch(
        f"/api/v1/assists/{assist['id']}",
        {"outcomes": ["recovered_vehicle"], "occurred_at": "2025-03-05T08:00:00Z"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["outcomes"] == ["recovered_vehicle"]
    stats = client_for(clerk).get("/api/v1/stats/outcomes?from=2025-01-01&to=2025-04-01&interval=month").json()
    assert [row["assists"] for row in stats["series"]] == [0, 0, 1]
    assert stats["outcomes"]["arrest"] == 0 and stats["outcomes"]["recovered_vehicle"] == 1
    assert api.patch(f"/api/v1/assists/{assist['id']}", {"outcomes": ["nope"]}, format="json").status_code == 400
    assert api.patch(f"/api/v1/assists/{assist['id']}", {"briefing": None}, format="json").status_code == 400
    # a misspelt field, or nothing to change: a 400 naming it (both were a 200 that changed nothing)
    misspelt = api.patch(f"/api/v1/assists/{assist['id']}", {"outcome": ["arrest"]}, format="json")
    assert misspelt.status_code == 400 and "outcome" in misspelt.json()["error"]["fields"]
    assert api.patch(f"/api/v1/assists/{assist['id']}", {}, format="json").status_code == 400
    assert client_for(clerk).get(f"/api/v1/assists/{assist['id']}").json()["outcomes"] == ["recovered_vehicle"]


KNOWN = [  # (occurred_at, outcomes)
    ("2025-01-03T10:00:00Z", ["arrest", "recovered_gun"]),
    ("2025-01-04T23:59:00Z", ["vehicle_info"]),
    ("2025-01-06T00:30:00Z", ["arrest"]),  # a Monday: the second week
    ("2025-02-14T12:00:00Z", ["missing_person_located"]),
    ("2025-03-31T23:00:00Z", ["arrest", "assisted_on_scene"]),
    ("2025-04-01T00:00:00Z", ["arrest"]),  # outside [from, to)
]


@pytest.fixture
def known(client_for, operator):
    api = client_for(operator)
    for at, outcomes in KNOWN:
        log(api, outcomes=outcomes, occurred_at=at)


def test_statistics_by_month_day_and_week(known, client_for, clerk, it_user):
    by_month = client_for(clerk).get("/api/v1/stats/outcomes?from=2025-01-01&to=2025-04-01&interval=month").json()
    assert by_month["assists"] == 5
    # what was counted, as the transparency report says it (a window this old: from its whole hours)
    assert (by_month["counted_from"], by_month["counted_to"]) == ("2025-01-01T00:00:00Z", "2025-04-01T00:00:00Z")
    since = (datetime.now(UTC) - timedelta(days=1)).replace(minute=20, second=0, microsecond=0)
    recent = client_for(clerk).get(f"/api/v1/stats/outcomes?interval=day&from={since:%Y-%m-%dT%H:%M:%SZ}").json()
    assert recent["counted_from"] == f"{since:%Y-%m-%dT%H:%M:%SZ}"  # within the exact rows' week: the window itself
    assert by_month["outcomes"]["arrest"] == 3 and by_month["outcomes"]["recovered_gun"] == 1
    assert set(by_month["outcomes"]) == set(OUTCOME_CODES)
    assert [(r["start"][:10], r["assists"]) for r in by_month["series"]] == [
        ("2025-01-01", 3),
        ("2025-02-01", 1),
        ("2025-03-01", 1),
    ]
    by_day = client_for(it_user).get("/api/v1/stats/outcomes?from=2025-01-03&to=2025-01-07&interval=day").json()
    assert [(r["start"][:10], r["assists"]) for r in by_day["series"]] == [
        ("2025-01-03", 1),
        ("2025-01-04", 1),
        ("2025-01-05", 0),
        ("2025-01-06", 1),
    ]
    by_week = client_for(clerk).get("/api/v1/stats/outcomes?from=2024-12-30&to=2025-01-13&interval=week").json()
    assert [(r["start"][:10], r["assists"], r["outcomes"]["arrest"]) for r in by_week["series"]] == [
        ("2024-12-30", 2, 1),
        ("2025-01-06", 1, 1),
    ]


def test_statistics_as_csv(known, client_for, operator):
    response = client_for(operator).get(
        "/api/v1/stats/outcomes?from=2025-01-01&to=2025-04-01&interval=month&format=csv"
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["start", "assists", *OUTCOME_CODES]
    arrest = rows[0].index("arrest")
    assert [(r[0][:10], r[1], r[arrest]) for r in rows[1:]] == [
        ("2025-01-01", "3", "2"),
        ("2025-02-01", "1", "0"),
        ("2025-03-01", "1", "1"),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "from=yesterday",
        "to=2025-13-01",
        "interval=year",
        "format=xml",
        "from=2025-02-01&to=2025-01-01",
        "from=1900-01-01",
    ],
)
def test_unusable_statistics_parameters_are_400(client_for, clerk, query):
    response = client_for(clerk).get(f"/api/v1/stats/outcomes?{query}")
    assert response.status_code == 400, query
    assert "error" in response.json()


def test_a_briefed_vehicle_suggests_vehicle_info_and_the_operator_confirms(client_for, operator, officer):
    api = client_for(operator)
    briefing = api.post(
        "/api/v1/briefings",
        {
            "priority": "urgent",
            "title": "Stolen car",
            "vehicles": [{"plate": "ABC123"}],
            "audience": {"officers": [str(officer.pk)]},
        },
        format="json",
    ).json()
    [suggestion] = api.get("/api/v1/assists/suggestions").json()["results"]
    assert suggestion["briefing"]["id"] == briefing["id"]
    assert suggestion["briefing"]["created_at"] == briefing["created_at"]  # UTC with Z, as everywhere
    assert suggestion["outcomes"] == ["vehicle_info"] and "briefing" in suggestion["tools"]
    assist = log(api, outcomes=suggestion["outcomes"], tools=suggestion["tools"], briefing=briefing["id"])
    assert assist["briefing"] == briefing["id"]
    assert api.get("/api/v1/assists/suggestions").json()["results"] == []
    again = api.post("/api/v1/assists", {"outcomes": ["arrest"], "briefing": briefing["id"]}, format="json")
    assert again.status_code == 409


def test_a_suggestion_for_an_incidents_briefing_carries_the_incidents_case_number(client_for, operator, officer):
    api = client_for(operator)
    incident = api.post(
        "/api/v1/incidents",
        {"title": "Armed robbery", "location": {"lat": 40.7, "lon": -74.0}, "case_number": "C-11"},
        format="json",
    )
    assert incident.status_code == 201, incident.content
    api.post(
        "/api/v1/briefings",
        {
            "priority": "urgent",
            "title": "Suspect",
            "suspects": [{"description": "Male, 30s"}],
            "incident": incident.json()["id"],
            "audience": {"officers": [str(officer.pk)]},
        },
        format="json",
    )
    [suggestion] = api.get("/api/v1/assists/suggestions").json()["results"]
    assert suggestion["case_number"] == "C-11"


def test_a_suggestion_can_be_dismissed(client_for, operator, officer, clerk):
    api = client_for(operator)
    briefing = api.post(
        "/api/v1/briefings",
        {
            "priority": "routine",
            "title": "Suspect",
            "suspects": [{"description": "red hoodie"}],
            "audience": {"officers": [str(officer.pk)]},
        },
        format="json",
    ).json()
    assert client_for(clerk).post(f"/api/v1/assists/suggestions/{briefing['id']}/dismiss").status_code == 403
    assert api.get("/api/v1/assists/suggestions").json()["results"][0]["outcomes"] == ["suspect_info"]
    assert api.post(f"/api/v1/assists/suggestions/{briefing['id']}/dismiss").status_code == 204
    assert api.get("/api/v1/assists/suggestions").json()["results"] == []


ROLES = ["officer", "operator", "clerk", "it", "anonymous"]


@pytest.mark.parametrize("role", ROLES)
def test_roles(role, client_for, personas, anon, operator):
    assist = log(client_for(operator))
    api = anon if role == "anonymous" else client_for(personas[role])
    denied = 401 if role == "anonymous" else 403
    read = 200 if role in ("operator", "clerk") else denied
    assert api.get("/api/v1/assists").status_code == read
    assert api.get(f"/api/v1/assists/{assist['id']}").status_code == read
    assert api.get("/api/v1/assists/suggestions").status_code == read
    assert api.post("/api/v1/assists", {"outcomes": ["arrest"]}, format="json").status_code == (
        201 if role == "operator" else denied
    )
    patched = api.patch(f"/api/v1/assists/{assist['id']}", {"notes": "x"}, format="json")
    assert patched.status_code == (200 if role == "operator" else denied)
    stats = 200 if role in ("operator", "clerk", "it") else denied
    assert api.get("/api/v1/stats/outcomes").status_code == stats
    assert api.get("/api/v1/stats/outcomes?format=csv").status_code == stats
    assert api.get("/api/v1/transparency").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_assists_for_one_briefing_at_once_store_one(postgres_db, client_for, operator, officer, make_user):
    """The second assist waits for the first one's transaction, then sees it: 409, one row, one
    arrest in the statistics."""
    from apps.briefings.models import Briefing
    from apps.outcomes.services import assist_create
    from tests.helpers import second_behind_first

    api = client_for(operator)
    briefing = api.post(
        "/api/v1/briefings",
        {"priority": "urgent", "title": "Stolen car", "audience": {"officers": [str(officer.pk)]}},
        format="json",
    ).json()
    other = client_for(make_user("operator", username="operator-two"))
    second = second_behind_first(
        lambda: assist_create(actor=operator, outcomes=["arrest"], briefing=Briefing.objects.get(pk=briefing["id"])),
        lambda: other.post("/api/v1/assists", {"outcomes": ["arrest"], "briefing": briefing["id"]}, format="json"),
    )
    assert second.status_code == 409, second.content
    assert Assist.objects.filter(briefing_id=briefing["id"]).count() == 1
