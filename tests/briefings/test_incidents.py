"""Incidents: operators create them and assign officers; officers read their own."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ROLES
from tests.helpers import error_code

pytestmark = pytest.mark.django_db

SCENE = {
    "title": "Armed robbery, 5th and Main",
    "location": {"lat": 40.7128, "lon": -74.006},
    "radius_m": 400,
    "case_number": "24-00123",
}


def test_operator_creates_an_incident_and_assigns_officers(client_for, operator, officer, other_officer):
    api = client_for(operator)
    created = api.post("/api/v1/incidents", SCENE, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["title"] == SCENE["title"]
    assert body["location"] == SCENE["location"]
    assert body["radius_m"] == 400
    assert body["case_number"] == "24-00123"
    assert body["officers"] == []
    assert body["created_by"] == str(operator.pk)

    assigned = api.post(
        f"/api/v1/incidents/{body['id']}/officers",
        {"officers": [str(officer.pk), str(other_officer.pk)]},
        format="json",
    )
    assert assigned.status_code == 200, assigned.content
    assert set(assigned.json()["officers"]) == {str(officer.pk), str(other_officer.pk)}
    # assigning again is harmless
    again = api.post(f"/api/v1/incidents/{body['id']}/officers", {"officers": [str(officer.pk)]}, format="json")
    assert len(again.json()["officers"]) == 2

    listed = api.get("/api/v1/incidents").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert api.get(f"/api/v1/incidents/{body['id']}").json()["title"] == SCENE["title"]


def test_officer_reads_only_own_incidents(client_for, operator, officer, other_officer):
    api = client_for(operator)
    mine = api.post("/api/v1/incidents", SCENE, format="json").json()
    theirs = api.post("/api/v1/incidents", {**SCENE, "title": "Other"}, format="json").json()
    api.post(f"/api/v1/incidents/{mine['id']}/officers", {"officers": [str(officer.pk)]}, format="json")
    api.post(f"/api/v1/incidents/{theirs['id']}/officers", {"officers": [str(other_officer.pk)]}, format="json")

    own = client_for(officer)
    listed = own.get("/api/v1/incidents").json()
    assert [i["id"] for i in listed["results"]] == [mine["id"]]
    assert own.get(f"/api/v1/incidents/{mine['id']}").status_code == 200
    response = own.get(f"/api/v1/incidents/{theirs['id']}")
    assert response.status_code == 404 and error_code(response) == "not_found"


@pytest.mark.parametrize("role", ROLES)
def test_incident_roles(role, personas, client_for, operator):
    incident = client_for(operator).post("/api/v1/incidents", SCENE, format="json").json()
    api = client_for(personas[role])
    create = api.post("/api/v1/incidents", SCENE, format="json")
    assign = api.post(
        f"/api/v1/incidents/{incident['id']}/officers", {"officers": [str(personas["officer"].pk)]}, format="json"
    )
    listing = api.get("/api/v1/incidents")
    if role == "operator":
        assert (create.status_code, assign.status_code, listing.status_code) == (201, 200, 200)
    elif role == "officer":
        assert (create.status_code, assign.status_code, listing.status_code) == (403, 403, 200)
    else:
        assert (create.status_code, assign.status_code, listing.status_code) == (403, 403, 403)
        assert error_code(create) == "forbidden"


def test_incident_anonymous_is_401(anon):
    assert anon.get("/api/v1/incidents").status_code == 401
    assert anon.post("/api/v1/incidents", SCENE, format="json").status_code == 401


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"title": "x"},
        {"title": "x", "location": {"lat": 200, "lon": 0}},
        {"title": "x", "location": {"lat": 10, "lon": "east"}},
        {"title": "", "location": {"lat": 10, "lon": 10}},
        {"title": "x", "location": {"lat": 10, "lon": 10}, "radius_m": -5},
    ],
)
def test_incident_bad_input(payload, client_for, operator):
    response = client_for(operator).post("/api/v1/incidents", payload, format="json")
    assert response.status_code == 400 and error_code(response) == "invalid"


def test_assign_unknown_or_non_officer_ids_is_400_and_changes_nothing(client_for, operator, officer, clerk):
    api = client_for(operator)
    incident = api.post("/api/v1/incidents", SCENE, format="json").json()
    for officers in ([str(uuid.uuid4())], [str(officer.pk), str(clerk.pk)], ["not-a-uuid"], []):
        response = api.post(f"/api/v1/incidents/{incident['id']}/officers", {"officers": officers}, format="json")
        assert response.status_code == 400, officers
        assert any(k.startswith("officers") for k in response.json()["error"]["fields"])
    assert api.get(f"/api/v1/incidents/{incident['id']}").json()["officers"] == []
    missing = api.post(f"/api/v1/incidents/{uuid.uuid4()}/officers", {"officers": [str(officer.pk)]}, format="json")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "bad",
    [
        {"location": {"lat": True, "lon": -74.006}},
        {"location": {"lat": 40.7128, "lon": False}},
        {"radius_m": True},
    ],
)
def test_a_boolean_where_a_number_belongs_is_a_400_not_a_one(client_for, operator, bad):
    """`{"lat": true}` was stored as a latitude of 1.0: a boolean is not a number here."""
    from apps.briefings.models import Incident

    response = client_for(operator).post("/api/v1/incidents", {**SCENE, **bad}, format="json")
    assert response.status_code == 400 and error_code(response) == "invalid", response.content
    assert not Incident.objects.exists()


def test_two_operators_adding_the_same_officer_at_once_both_succeed(transactional_db, make_user):
    """Each request on its own connection, at the same moment: one adds the officer, the other
    finds them added (it was a 500 from the unique constraint, in 5 of 5 tries on PostgreSQL)."""
    from apps.briefings.models import Incident, IncidentOfficer
    from apps.briefings.services import incident_assign_officers
    from tests.helpers import at_once

    operator, officer = make_user("operator"), make_user("officer")
    for _ in range(4):
        incident = Incident.objects.create(title="Scene", lat=40.0, lon=-75.0, created_by=operator)

        def add(incident=incident):
            return incident_assign_officers(actor=operator, incident=incident, officers=[officer.pk])

        assert [outcome for outcome in at_once(add, add) if isinstance(outcome, Exception)] == []
        assert IncidentOfficer.objects.filter(incident=incident).count() == 1
