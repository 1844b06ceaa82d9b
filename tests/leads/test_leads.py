"""Leads: required fields per kind, the two-person rule, share only when verified (with the
facial recognition notice in the push), related evidence near each event, roles, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.leads.models import Lead
from tests.briefings.conftest import pushed
from tests.helpers import error_code
from tests.leads.conftest import SCENE, fr_payload, nibin_payload

pytestmark = pytest.mark.django_db

NOTICE = "Investigative lead only - not probable cause."


def create(api, payload):
    response = api.post("/api/v1/leads", payload, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_facial_recognition_lead_keeps_the_whole_candidate_list(client_for, operator, probe):
    lead = create(client_for(operator), fr_payload(probe, search_system_version="4.2.1"))
    assert lead["kind"] == "facial_recognition" and lead["state"] == "pending_review"
    assert lead["created_by"] == str(operator.pk) and lead["created_at"]
    assert lead["probe_media"] == probe and lead["search_system"] == "Statewide mugshot FR v4.2"
    assert [c["rank"] for c in lead["candidates"]] == [1, 2]
    assert lead["candidates"][0]["name"] == "John Roe"
    assert lead["reviewed_by"] is None and lead["reviewed_at"] is None
    assert AuditEvent.objects.filter(action="lead.create", object_id=lead["id"]).count() == 1


def test_an_empty_candidate_list_records_a_search_with_no_result(client_for, operator, probe):
    lead = create(client_for(operator), fr_payload(probe, candidates=[]))
    assert lead["candidates"] == []


@pytest.mark.parametrize("missing", ["probe_media", "search_system", "candidates"])
def test_facial_recognition_needs_probe_system_and_candidates(client_for, operator, probe, missing):
    payload = fr_payload(probe)
    del payload[missing]
    response = client_for(operator).post("/api/v1/leads", payload, format="json")
    assert response.status_code == 400
    assert missing in response.json()["error"]["fields"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"nibin_lead_number": ""}, "nibin_lead_number"),
        ({"events": None}, "events"),
        ({"events": "one"}, "events"),
    ],
)
def test_nibin_needs_a_lead_number_and_two_events(client_for, operator, change, field):
    payload = nibin_payload(**change)
    if payload["events"] is None:
        del payload["events"]
    response = client_for(operator).post("/api/v1/leads", payload, format="json")
    assert response.status_code == 400, response.content
    assert any(name.startswith(field) for name in response.json()["error"]["fields"])
    one_event = nibin_payload()
    one_event["events"] = one_event["events"][:1]
    response = client_for(operator).post("/api/v1/leads", one_event, format="json")
    assert response.status_code == 400 and "events" in response.json()["error"]["fields"]
    assert not Lead.objects.exists()


def test_an_event_time_without_a_zone_is_refused_not_guessed(client_for, operator):
    payload = nibin_payload()
    payload["events"][1]["occurred_at"] = "2026-03-09T01:40:00"
    response = client_for(operator).post("/api/v1/leads", payload, format="json")
    assert response.status_code == 400, response.content
    assert "events.1.occurred_at" in response.json()["error"]["fields"]
    assert not Lead.objects.exists()


def test_a_nibin_lead_links_events_with_items(client_for, operator):
    lead = create(client_for(operator), nibin_payload())
    assert lead["nibin_lead_number"] == "NIBIN-24-00017"
    assert [e["case_number"] for e in lead["events"]] == ["2026-000456", "2026-000789"]
    assert lead["events"][1]["items"][1] == {"kind": "bullet"}


def test_event_times_come_back_in_utc_with_z_like_every_other_time(client_for, operator):
    payload = nibin_payload()
    payload["events"][1]["occurred_at"] = "2026-03-09T03:40:00+02:00"  # any zone in, UTC out
    api = client_for(operator)
    lead = create(api, payload)
    times = ["2026-03-01T22:15:00Z", "2026-03-09T01:40:00Z"]
    assert [e["occurred_at"] for e in lead["events"]] == times
    assert [e["occurred_at"] for e in api.get(f"/api/v1/leads/{lead['id']}").json()["events"]] == times
    related = api.get(f"/api/v1/leads/{lead['id']}/related").json()
    assert [e["occurred_at"] for e in related["events"]] == times


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"kind": "dna", "case_number": "1", "summary": "x"},
        {"kind": "other", "summary": "no case number"},
        {"kind": "other", "case_number": "1", "summary": "x", "incident": "not-a-uuid"},
        {"kind": "other", "case_number": "1", "summary": "x", "incident": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(client_for, operator, payload):
    response = client_for(operator).post("/api/v1/leads", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Lead.objects.exists()


def test_bad_nibin_event_values_are_refused(client_for, operator, probe):
    payload = nibin_payload()
    payload["events"][0]["location"] = {"lat": 200, "lon": 0}
    payload["events"][1]["items"] = [{"kind": "knife"}]
    response = client_for(operator).post("/api/v1/leads", payload, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "events.0.location.lat" in fields and "events.1.items.0.kind" in fields
    future = nibin_payload()
    future["events"][1]["occurred_at"] = "2099-01-01T00:00:00Z"  # a shooting that has not happened
    response = client_for(operator).post("/api/v1/leads", future, format="json")
    assert response.status_code == 400 and "events.1.occurred_at" in response.json()["error"]["fields"]
    bad_photo = fr_payload(probe, candidates=[{"rank": 1, "photo": "00000000-0000-0000-0000-000000000000"}])
    assert client_for(operator).post("/api/v1/leads", bad_photo, format="json").status_code == 400
    assert not Lead.objects.exists()


def test_the_creator_can_never_review_their_own_lead(client_for, operator, other_operator, probe):
    lead = create(client_for(operator), fr_payload(probe))
    mine = client_for(operator).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "verified", "note": "looks right"}, format="json"
    )
    assert mine.status_code == 403
    for body in ({}, {"decision": "maybe"}):  # the rule first, whatever the body holds
        response = client_for(operator).post(f"/api/v1/leads/{lead['id']}/review", body, format="json")
        assert response.status_code == 403 and error_code(response) == "own_lead"
    assert Lead.objects.get(pk=lead["id"]).state == "pending_review"
    second = client_for(other_operator).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "verified", "note": "compared by hand"}, format="json"
    )
    assert second.status_code == 200, second.content
    body = second.json()
    assert body["state"] == "verified" and body["reviewed_by"] == str(other_operator.pk) and body["reviewed_at"]
    assert body["review_note"] == "compared by hand"
    again = client_for(other_operator).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "rejected", "note": "changed my mind"}, format="json"
    )
    assert again.status_code == 409
    assert Lead.objects.get(pk=lead["id"]).state == "verified"
    assert AuditEvent.objects.filter(action="lead.verified", object_id=lead["id"]).count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"decision": "verified"},
        {"note": "x"},
        {"decision": "maybe", "note": "x"},
        {"decision": "verified", "note": ""},
    ],
)
def test_a_review_needs_a_decision_and_a_note(client_for, operator, other_operator, body):
    lead = create(client_for(operator), nibin_payload())
    response = client_for(other_operator).post(f"/api/v1/leads/{lead['id']}/review", body, format="json")
    assert response.status_code == 400
    assert Lead.objects.get(pk=lead["id"]).state == "pending_review"


def test_a_rejected_lead_cannot_be_shared(client_for, operator, other_operator, officer):
    lead = create(client_for(operator), nibin_payload())
    share = {"priority": "urgent", "audience": {"officers": [str(officer.pk)]}}
    assert client_for(operator).post(f"/api/v1/leads/{lead['id']}/share", share, format="json").status_code == 409
    client_for(other_operator).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "rejected", "note": "different firearm"}, format="json"
    )
    response = client_for(operator).post(f"/api/v1/leads/{lead['id']}/share", share, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lead_not_verified"


def _verified(client_for, operator, other_operator, payload) -> dict:
    lead = create(client_for(operator), payload)
    response = client_for(other_operator).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "verified", "note": "ok"}, format="json"
    )
    assert response.status_code == 200
    return lead


def test_sharing_with_the_incidents_officers_a_lead_without_an_incident_names_the_audience(
    client_for, operator, other_operator
):
    lead = _verified(client_for, operator, other_operator, nibin_payload())
    share = {"priority": "urgent", "audience": {"incident": True}}
    response = client_for(operator).post(f"/api/v1/leads/{lead['id']}/share", share, format="json")
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["audience.incident"]
    assert not Lead.objects.get(pk=lead["id"]).shares.exists()


def test_a_shared_facial_recognition_lead_carries_the_notice_to_the_phone(
    fcm, client_for, operator, other_operator, officer, make_phone, probe
):
    phone = make_phone(officer)
    lead = _verified(client_for, operator, other_operator, fr_payload(probe))
    response = client_for(operator).post(
        f"/api/v1/leads/{lead['id']}/share",
        {"priority": "urgent", "audience": {"officers": [str(officer.pk)]}, "body": "Possible suspect, robbery"},
        format="json",
    )
    assert response.status_code == 201, response.content
    briefing = response.json()
    assert briefing["lead"] == lead["id"] and briefing["recipients"] == 1
    assert briefing["notice"] == NOTICE
    counts = briefing["deliveries"]  # as a briefing sent any other way answers
    assert counts["queued"] + counts["sent"] + counts["failed"] == 1 and counts["acknowledged"] == 0
    [message] = pushed(phone.push_token)
    assert message["data"]["briefing_id"] == briefing["id"]
    assert message["notification"]["body"].startswith(NOTICE)
    # what the officer reads in the app says it too
    mine = client_for(officer).get(f"/api/v1/briefings/{briefing['id']}").json()
    assert mine["notice"] == NOTICE and "lead" not in mine  # a lead's id is for the center
    # the operators' view of the briefing names the lead it came from, as the 201 did
    assert client_for(other_operator).get(f"/api/v1/briefings/{briefing['id']}").json()["lead"] == lead["id"]
    listed = client_for(operator).get("/api/v1/briefings").json()["results"]
    assert [(b["id"], b.get("lead")) for b in listed] == [(briefing["id"], lead["id"])]
    assert client_for(operator).get(f"/api/v1/leads/{lead['id']}").json()["briefings"] == [briefing["id"]]


def test_the_notice_survives_a_long_body(client_for, operator, other_operator, officer, make_phone, probe):
    phone = make_phone(officer)
    lead = _verified(client_for, operator, other_operator, fr_payload(probe))
    client_for(operator).post(
        f"/api/v1/leads/{lead['id']}/share",
        {"priority": "routine", "audience": {"officers": [str(officer.pk)]}, "body": "word " * 400},
        format="json",
    )
    [message] = pushed(phone.push_token)
    assert message["notification"]["body"].startswith(NOTICE)


def test_a_nibin_briefing_has_no_face_notice(client_for, operator, other_operator, officer, make_phone):
    make_phone(officer)
    lead = _verified(client_for, operator, other_operator, nibin_payload())
    response = client_for(operator).post(
        f"/api/v1/leads/{lead['id']}/share",
        {"priority": "routine", "audience": {"officers": [str(officer.pk)]}},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["notice"] == "" and "NIBIN-24-00017" in response.json()["body"]


def test_every_read_of_a_lead_is_in_the_trail(client_for, operator, clerk, probe):
    """A lead holds candidates' names and records: reading one, in the list or alone, is an access
    in the audit trail (only its creation, review, sharing and related searches were)."""
    first = create(client_for(operator), fr_payload(probe))
    second = create(client_for(operator), nibin_payload())
    assert client_for(clerk).get(f"/api/v1/leads/{first['id']}").status_code == 200
    assert client_for(clerk).get("/api/v1/leads").json()["count"] == 2
    views = list(AuditEvent.objects.filter(action="lead.view").order_by("id").values_list("object_id", "actor_id"))
    assert views[0] == (first["id"], str(clerk.pk))  # the lead alone
    assert sorted(views[1:]) == sorted([(first["id"], str(clerk.pk)), (second["id"], str(clerk.pk))])  # the list


def test_a_second_account_with_the_creators_badge_cannot_review(client_for, make_user, probe):
    """The same person under two accounts (one badge number): the second verified the lead the
    first created, and it was shared as verified by two people."""
    first = make_user("operator", full_name="Ann Op", badge_number="100")
    second = make_user("operator", full_name="Ann Op", badge_number=" 100 ")
    other = make_user("operator", full_name="Bo Op", badge_number="200")
    lead = create(client_for(first), fr_payload(probe))
    same = client_for(second).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "verified", "note": "ok"}, format="json"
    )
    assert same.status_code == 403 and error_code(same) == "own_lead"
    assert Lead.objects.get(pk=lead["id"]).state == "pending_review"
    queue = client_for(second).get("/api/v1/leads?queue=review").json()["results"]
    assert lead["id"] not in [item["id"] for item in queue]
    verified = client_for(other).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "verified", "note": "compared by hand"}, format="json"
    )
    assert verified.status_code == 200


def test_the_badge_the_creator_had_still_names_them_after_it_changes(client_for, make_user, probe):
    """IT gave the creator a new badge number: the other account under the old one is still the
    same person (it was put in that account's review queue, and could have verified)."""
    first = make_user("operator", full_name="Ann Op", badge_number="B-100")
    second = make_user("operator", full_name="Ann Op", badge_number="b-100")
    lead = create(client_for(first), fr_payload(probe))
    first.badge_number = "B-101"
    first.save(update_fields=["badge_number"])
    queue = client_for(second).get("/api/v1/leads?queue=review").json()["results"]
    assert lead["id"] not in [item["id"] for item in queue]
    same = client_for(second).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "verified", "note": "ok"}, format="json"
    )
    assert same.status_code == 403 and error_code(same) == "own_lead"
    assert Lead.objects.get(pk=lead["id"]).state == "pending_review"


def test_list_filters_and_review_queue_hides_my_own(client_for, operator, other_operator, probe):
    mine = create(client_for(operator), fr_payload(probe))
    theirs = create(client_for(other_operator), nibin_payload())
    api = client_for(operator)
    assert [r["id"] for r in api.get("/api/v1/leads?kind=nibin").json()["results"]] == [theirs["id"]]
    assert {r["id"] for r in api.get("/api/v1/leads?state=pending_review").json()["results"]} == {
        mine["id"],
        theirs["id"],
    }
    assert [r["id"] for r in api.get("/api/v1/leads?case_number=2026-000123").json()["results"]] == [mine["id"]]
    assert [r["id"] for r in api.get("/api/v1/leads?queue=review").json()["results"]] == [theirs["id"]]
    assert api.get("/api/v1/leads?state=done").status_code == 400
    assert api.get("/api/v1/leads?kind=dna").status_code == 400
    for unusable in ("queue=x", "queue=mine", "sort=kind"):  # never silently the whole list
        response = api.get(f"/api/v1/leads?{unusable}")
        assert response.status_code == 400 and error_code(response) == "invalid", unusable


def test_a_nibin_lead_waiting_over_48_hours_is_flagged(client_for, operator):
    lead = create(client_for(operator), nibin_payload())
    assert client_for(operator).get(f"/api/v1/leads/{lead['id']}").json()["review_overdue"] is False
    Lead.objects.filter(pk=lead["id"]).update(created_at=datetime.now(UTC) - timedelta(hours=49))
    assert client_for(operator).get(f"/api/v1/leads/{lead['id']}").json()["review_overdue"] is True


def test_related_evidence_inside_and_outside_radius_and_window(client_for, operator, make_clip):
    at = datetime(2026, 3, 1, 22, 15, tzinfo=UTC)
    near = make_clip(lat=SCENE["lat"] + 0.003, lon=SCENE["lon"], started_at=at - timedelta(minutes=30))  # ~330 m
    far = make_clip(lat=SCENE["lat"] + 0.006, lon=SCENE["lon"], started_at=at)  # ~670 m
    early = make_clip(lat=SCENE["lat"], lon=SCENE["lon"], started_at=at - timedelta(hours=3))  # ends 2h55m before
    overlapping = make_clip(  # a long recording that began 3 hours before and ran past the event
        lat=SCENE["lat"], lon=SCENE["lon"], started_at=at - timedelta(hours=3), ended_at=at - timedelta(hours=1)
    )
    lead = create(client_for(operator), nibin_payload())
    api = client_for(operator)
    body = api.get(f"/api/v1/leads/{lead['id']}/related").json()
    assert {c["id"] for c in body["clips"]} == {str(near.pk), str(overlapping.pk)}
    assert body["plate_reads"] == [] or isinstance(body["plate_reads"], list)
    assert body["clips"][0]["events"] == [0]
    wider = api.get(f"/api/v1/leads/{lead['id']}/related?radius_m=800&hours=4").json()
    assert {c["id"] for c in wider["clips"]} == {str(near.pk), str(far.pk), str(early.pk), str(overlapping.pk)}
    narrow = api.get(f"/api/v1/leads/{lead['id']}/related?radius_m=100&hours=0.5").json()
    assert narrow["clips"] == []
    for bad in ("radius_m=-1", "radius_m=abc", "hours=x", "hours=-2", "radius=800", "foo=1", "page=2", "page_size=5"):
        response = api.get(f"/api/v1/leads/{lead['id']}/related?{bad}")
        assert response.status_code == 400, bad
    assert AuditEvent.objects.filter(action="lead.related", object_id=lead["id"]).count() == 3


def test_related_evidence_and_the_lead_list_cost_as_many_queries_for_many_as_for_few(client_for, operator, make_clip):
    """A lead near a busy scene lists hundreds of clips, and the list pages up to 500 leads: each
    answer was a query per clip (its category) or two statements per lead (its lead.view event)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    at = datetime(2026, 3, 1, 22, 15, tzinfo=UTC)
    api = client_for(operator)
    lead = create(api, nibin_payload())

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(path).status_code == 200
        return len(captured)

    make_clip(lat=SCENE["lat"], lon=SCENE["lon"], started_at=at - timedelta(minutes=10))
    create(api, nibin_payload())
    few = queries(f"/api/v1/leads/{lead['id']}/related"), queries("/api/v1/leads?page_size=100")
    for n in range(12):
        make_clip(lat=SCENE["lat"], lon=SCENE["lon"], started_at=at - timedelta(minutes=n))
        create(api, nibin_payload())
    many = queries(f"/api/v1/leads/{lead['id']}/related"), queries("/api/v1/leads?page_size=100")
    assert many == few


def test_related_evidence_exactly_at_the_radius_is_in_whichever_way_it_lies(client_for, operator, make_clip):
    """500 m due north of the event came out 500.0000000004 m in floating point and was left out,
    where 500 m east or west was in."""
    import math

    from apps.core.geo import EARTH_RADIUS_M

    scene = {"lat": 40.0, "lon": -75.0}
    at = datetime(2026, 3, 1, 22, 15, tzinfo=UTC)
    north = make_clip(lat=scene["lat"] + math.degrees(500 / EARTH_RADIUS_M), lon=scene["lon"], started_at=at)
    beyond = make_clip(lat=scene["lat"] + math.degrees(501 / EARTH_RADIUS_M), lon=scene["lon"], started_at=at)
    payload = nibin_payload()
    payload["events"][0]["location"] = scene  # the second event lies kilometres away
    lead = create(client_for(operator), payload)
    body = client_for(operator).get(f"/api/v1/leads/{lead['id']}/related?radius_m=500").json()
    assert [c["id"] for c in body["clips"]] == [str(north.pk)]
    assert body["clips"][0]["distance_m"] == 500.0 and str(beyond.pk) not in str(body)


def test_a_lead_without_events_has_empty_related_lists(client_for, operator, probe, make_clip):
    make_clip(lat=SCENE["lat"], lon=SCENE["lon"])
    lead = create(client_for(operator), fr_payload(probe))
    body = client_for(operator).get(f"/api/v1/leads/{lead['id']}/related").json()
    assert body["clips"] == [] and body["plate_reads"] == []


ROLES = ["officer", "operator", "clerk", "it", "anonymous"]


@pytest.mark.parametrize("role", ROLES)
def test_roles(role, client_for, personas, other_operator, probe, anon):
    lead = create(client_for(other_operator), nibin_payload())
    api = anon if role == "anonymous" else client_for(personas[role])
    expect_read = {"operator": 200, "clerk": 200}.get(role, 401 if role == "anonymous" else 403)
    expect_write = {"operator": 201}.get(role, 401 if role == "anonymous" else 403)
    assert api.get("/api/v1/leads").status_code == expect_read
    assert api.get(f"/api/v1/leads/{lead['id']}").status_code == expect_read
    assert api.get(f"/api/v1/leads/{lead['id']}/related").status_code == expect_read
    assert api.post("/api/v1/leads", nibin_payload(), format="json").status_code == expect_write
    review = api.post(f"/api/v1/leads/{lead['id']}/review", {"decision": "verified", "note": "ok"}, format="json")
    assert review.status_code == {"operator": 200}.get(role, expect_write)
    share = api.post(
        f"/api/v1/leads/{lead['id']}/share",
        {"priority": "routine", "audience": {"officers": [str(personas["officer"].pk)]}},
        format="json",
    )
    assert share.status_code == {"operator": 201}.get(role, expect_write)


def test_an_unknown_lead_is_404(client_for, operator):
    missing = "00000000-0000-0000-0000-000000000000"
    assert client_for(operator).get(f"/api/v1/leads/{missing}").status_code == 404
    assert client_for(operator).post(f"/api/v1/leads/{missing}/review", {}, format="json").status_code == 404


def test_related_evidence_says_when_an_event_had_more_than_it_lists(client_for, operator, make_clip, settings):
    settings.RTCC_LEADS_RELATED_LIMIT = 2
    at = datetime(2026, 3, 1, 22, 15, tzinfo=UTC)
    for minutes in (0, 10, 20):
        make_clip(lat=SCENE["lat"], lon=SCENE["lon"], started_at=at - timedelta(minutes=minutes))
    lead = create(client_for(operator), nibin_payload())
    body = client_for(operator).get(f"/api/v1/leads/{lead['id']}/related").json()
    assert len(body["clips"]) == 2 and body["limit"] == 2
    assert body["truncated"] == {"clips": True, "plate_reads": False}
    settings.RTCC_LEADS_RELATED_LIMIT = 3
    body = client_for(operator).get(f"/api/v1/leads/{lead['id']}/related").json()
    assert len(body["clips"]) == 3 and body["truncated"] == {"clips": False, "plate_reads": False}


def test_operators_consoles_hear_that_a_lead_changed_not_what_it_holds(
    client_for, operator, other_operator, officer, probe
):
    """The second operator's queue and the creator's open page learn of a new lead, a review and a
    share without a reload; the event says which lead and its state, never its candidates."""
    from tests.core.test_realtime import console_group

    with console_group() as drain:
        lead = _verified(client_for, operator, other_operator, fr_payload(probe))
        share = {"priority": "urgent", "audience": {"officers": [str(officer.pk)]}}
        assert client_for(operator).post(f"/api/v1/leads/{lead['id']}/share", share, format="json").status_code == 201
        events = [event for event in drain() if event["type"] == "lead.update"]
    assert [(event["lead"]["id"], event["lead"]["state"]) for event in events] == [
        (lead["id"], "pending_review"),
        (lead["id"], "verified"),
        (lead["id"], "verified"),
    ]
    assert all(set(event["lead"]) == {"id", "state", "at"} for event in events)
    assert "John Roe" not in str(events)


def test_a_lead_created_before_the_badge_was_kept_keeps_its_creators_badge_of_the_upgrade(client_for, make_user, probe):
    """Leads 0002 kept the creator's badge on each new lead, and left the leads already waiting
    for review without one: after IT changed the creator's badge, a second account under the old
    one could verify the lead its own person created. The upgrade (0004) gives them the badge
    their creator had then."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("apps.leads.migrations.0004_created_by_badge_of_earlier_leads")
    first = make_user("operator", full_name="Ann Op", badge_number="B-100")
    second = make_user("operator", full_name="Ann Op", badge_number="b-100")
    lead = create(client_for(first), fr_payload(probe))
    Lead.objects.filter(pk=lead["id"]).update(created_by_badge="")  # as 0002 left it
    migration.badge_of_creator(apps, None)
    first.badge_number = "B-101"
    first.save(update_fields=["badge_number"])
    same = client_for(second).post(
        f"/api/v1/leads/{lead['id']}/review", {"decision": "verified", "note": "ok"}, format="json"
    )
    assert same.status_code == 403 and error_code(same) == "own_lead"
