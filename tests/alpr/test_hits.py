"""Hit review: new -> confirmed | rejected by operators, 409s, and briefing only after confirm."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.alpr.models import Hit
from apps.audit.models import AuditEvent
from apps.briefings.models import Briefing
from tests.alpr.conftest import POLE, a_read, console_listener, image_b64, post_reads
from tests.briefings.conftest import pushed
from tests.conftest import ROLES
from tests.helpers import error_code, second_behind_first

pytestmark = pytest.mark.django_db


@pytest.fixture
def hit(reader_api, stolen):
    response = post_reads(
        reader_api,
        [a_read("ABC1234", plate_state="CA", image=image_b64(), vehicle={"make": "Toyota", "color": "Blue"})],
    )
    [hit_id] = response.json()["hits"]
    return hit_id


def test_confirm_is_timed_audited_and_pushed(client_for, operator, hit):
    next_event = console_listener()
    response = client_for(operator).post(f"/api/v1/hits/{hit}/confirm", {"note": "plate matches"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "confirmed" and body["reviewed_by"] == str(operator.pk) and body["reviewed_at"]
    assert body["note"] == "plate matches" and body["reject_reason"] is None and body["briefing"] is None
    event = AuditEvent.objects.get(action="hit.confirm", object_id=hit)
    assert event.details["seconds_to_review"] >= 0
    event = next_event()
    assert event["type"] == "hit.update" and event["hit"]["state"] == "confirmed"


def test_reject_needs_a_reason(client_for, operator, hit):
    api = client_for(operator)
    for bad in [{}, {"reason": "looks wrong"}, {"reason": None}]:
        response = api.post(f"/api/v1/hits/{hit}/reject", bad, format="json")
        assert response.status_code == 400 and error_code(response) == "invalid"
    assert Hit.objects.get().state == "new"
    response = api.post(f"/api/v1/hits/{hit}/reject", {"reason": "misread", "note": "3 not 8"}, format="json")
    assert response.json()["state"] == "rejected" and response.json()["reject_reason"] == "misread"


@pytest.mark.parametrize("first", ["confirm", "reject"])
def test_only_a_new_hit_can_be_reviewed(client_for, operator, hit, first):
    api = client_for(operator)
    assert api.post(f"/api/v1/hits/{hit}/{first}", {"reason": "duplicate"}, format="json").status_code == 200
    for action in ["confirm", "reject"]:
        response = api.post(f"/api/v1/hits/{hit}/{action}", {"reason": "other"}, format="json")
        assert response.status_code == 409 and error_code(response) == "hit_reviewed"


def test_an_unconfirmed_hit_cannot_be_briefed(client_for, operator, hit, officer, make_phone):
    phone = make_phone(officer, lat=POLE["lat"], lon=POLE["lon"])
    api = client_for(operator)
    response = api.post(f"/api/v1/hits/{hit}/brief", {"priority": "urgent"}, format="json")
    assert response.status_code == 409 and error_code(response) == "hit_not_confirmed"
    api.post(f"/api/v1/hits/{hit}/reject", {"reason": "misread"}, format="json")
    assert api.post(f"/api/v1/hits/{hit}/brief", {"priority": "urgent"}, format="json").status_code == 409
    assert Briefing.objects.count() == 0 and pushed(phone.push_token) == []


def test_bad_brief_input_is_refused(client_for, operator, hit):
    api = client_for(operator)
    api.post(f"/api/v1/hits/{hit}/confirm", {}, format="json")
    for bad in [{}, {"priority": "now"}, {"priority": "urgent", "audience": {"near": {"lat": 500}}}]:
        response = api.post(f"/api/v1/hits/{hit}/brief", bad, format="json")
        assert response.status_code == 400, response.content
    assert Briefing.objects.count() == 0


def _confirmed_brief(api, hit, **fields):
    assert api.post(f"/api/v1/hits/{hit}/confirm", {}, format="json").status_code == 200
    response = api.post(f"/api/v1/hits/{hit}/brief", {"priority": "urgent", **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_confirmed_hit_reaches_officers_near_the_read(client_for, operator, hit, officer, other_officer, make_phone):
    near = make_phone(officer, lat=POLE["lat"] + 0.005, lon=POLE["lon"])  # ~550 m
    far = make_phone(other_officer, lat=POLE["lat"] + 0.05, lon=POLE["lon"])  # ~5.5 km
    api = client_for(operator)
    briefing = _confirmed_brief(api, hit)
    assert briefing["recipients"] == 1 and briefing["priority"] == "urgent"
    [vehicle] = briefing["vehicles"]
    assert vehicle["plate"] == "ABC1234" and vehicle["plate_state"] == "CA"
    assert vehicle["make"] == "Toyota" and vehicle["color"] == "Blue" and vehicle["photo"]
    assert "Stolen vehicle" in briefing["body"] and "40.71280,-74.00600" in briefing["body"]
    assert briefing["audience"] == {"near": {"lat": POLE["lat"], "lon": POLE["lon"], "radius_m": 2000.0}}
    assert api.get(f"/api/v1/hits/{hit}").json()["briefing"] == briefing["id"]
    assert briefing["hit"] == hit and api.get(f"/api/v1/briefings/{briefing['id']}").json()["hit"] == hit
    assert "hit" not in client_for(officer).get(f"/api/v1/briefings/{briefing['id']}").json()
    assert pushed(far.push_token) == []
    [message] = pushed(near.push_token)
    assert message["data"]["briefing_id"] == briefing["id"]
    assert "ABC1234" in message["notification"]["body"] and "(CA)" in message["notification"]["body"]
    assert "/api/v1/media/" in message["notification"]["image"]  # the read's image, as the photo
    assert AuditEvent.objects.filter(action="hit.brief", object_id=hit).exists()


def test_the_push_content_as_fcm_gets_it(fcm, client_for, operator, hit, officer, make_phone):
    phone = make_phone(officer, lat=POLE["lat"], lon=POLE["lon"])
    briefing = _confirmed_brief(client_for(operator), hit, body="Approach with caution")
    [message] = pushed(phone.push_token)
    assert message["data"] == {"type": "briefing", "briefing_id": briefing["id"], "priority": "urgent"}
    assert message["notification"]["title"] == "URGENT: Hotlist hit: ABC1234 (CA)"
    assert message["notification"]["body"].startswith("Blue Toyota ABC1234 (CA); NCIC stolen: Stolen vehicle.")
    assert message["notification"]["image"].split("?")[0].endswith("/thumbnail")
    assert message["android"]["priority"] == "high"


def test_a_named_audience_replaces_the_default(client_for, operator, hit, officer, other_officer, make_phone):
    far = make_phone(other_officer, lat=10.0, lon=10.0)
    briefing = _confirmed_brief(client_for(operator), hit, audience={"officers": [str(other_officer.pk)]})
    assert briefing["recipients"] == 1 and len(pushed(far.push_token)) == 1


def test_a_number_written_as_text_in_the_audience_is_a_400(client_for, operator, hit, officer, make_phone):
    # The audience is read by a serializer of its own, from part of the body: as strict as the body.
    phone = make_phone(officer, lat=POLE["lat"], lon=POLE["lon"])
    api = client_for(operator)
    assert api.post(f"/api/v1/hits/{hit}/confirm", {}, format="json").status_code == 200
    near = {"lat": POLE["lat"], "lon": POLE["lon"], "radius_m": "2000"}
    response = api.post(f"/api/v1/hits/{hit}/brief", {"priority": "urgent", "audience": {"near": near}}, format="json")
    assert response.status_code == 400, response.content
    assert "audience.near.radius_m" in response.json()["error"]["fields"]
    assert not Briefing.objects.exists() and pushed(phone.push_token) == []
    near["radius_m"] = 2000
    answer = api.post(f"/api/v1/hits/{hit}/brief", {"priority": "urgent", "audience": {"near": near}}, format="json")
    assert answer.status_code == 201 and answer.json()["recipients"] == 1


def test_a_brief_preview_counts_whom_the_brief_would_reach_and_sends_nothing(
    client_for, operator, hit, officer, other_officer, make_phone
):
    near = make_phone(officer, lat=POLE["lat"] + 0.005, lon=POLE["lon"])  # ~550 m
    far = make_phone(other_officer, lat=POLE["lat"] + 0.05, lon=POLE["lon"])  # ~5.5 km
    api = client_for(operator)
    preview = api.post(f"/api/v1/hits/{hit}/brief/preview", {}, format="json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["recipients"] == 1 and body["phones"] == 1 and body["officers"] == [str(officer.pk)]
    assert body["audience"] == {"near": {"lat": POLE["lat"], "lon": POLE["lon"], "radius_m": 2000.0}}
    named = api.post(
        f"/api/v1/hits/{hit}/brief/preview", {"audience": {"officers": [str(other_officer.pk)]}}, format="json"
    )
    assert named.json()["officers"] == [str(other_officer.pk)]
    # The brief reaches exactly whom the preview counted; the preview itself sent nothing.
    assert not Briefing.objects.exists() and pushed(near.push_token) == [] and pushed(far.push_token) == []
    briefing = _confirmed_brief(api, hit)
    assert briefing["recipients"] == body["recipients"] and len(pushed(near.push_token)) == 1


def test_a_brief_preview_with_nobody_near_says_zero(client_for, operator, hit, officer, make_phone):
    make_phone(officer, lat=POLE["lat"] + 0.05, lon=POLE["lon"])  # ~5.5 km
    preview = client_for(operator).post(f"/api/v1/hits/{hit}/brief/preview", {}, format="json")
    assert preview.status_code == 200 and preview.json()["recipients"] == 0


def test_bad_brief_preview_input_is_refused(client_for, operator, hit):
    api = client_for(operator)
    bad = api.post(f"/api/v1/hits/{hit}/brief/preview", {"audience": {"near": {"lat": 1}}}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    unknown = api.post("/api/v1/hits/6f1b1d3a-0000-4000-8000-000000000000/brief/preview", {}, format="json")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_hits_are_listed_and_filtered(client_for, operator, hit, stolen):
    api = client_for(operator)
    assert api.get("/api/v1/hits?state=new").json()["count"] == 1
    assert api.get("/api/v1/hits?state=confirmed").json()["count"] == 0
    assert api.get(f"/api/v1/hits?hotlist={stolen['hotlist']['id']}").json()["count"] == 1
    assert api.get("/api/v1/hits?state=maybe").status_code == 400
    assert api.get("/api/v1/hits?hotlist=nope").status_code == 400
    assert api.get("/api/v1/hits?colour=red").status_code == 400
    assert api.get("/api/v1/hits/6f1b1d3a-0000-4000-8000-000000000000").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_hits_are_for_operators(role, personas, client_for, hit):
    api = client_for(personas[role])
    allowed = role == "operator"
    assert api.get("/api/v1/hits").status_code == (200 if allowed else 403)
    assert api.get(f"/api/v1/hits/{hit}").status_code == (200 if allowed else 403)
    if not allowed:
        assert api.post(f"/api/v1/hits/{hit}/confirm", {}, format="json").status_code == 403
        assert api.post(f"/api/v1/hits/{hit}/reject", {"reason": "other"}, format="json").status_code == 403
        assert api.post(f"/api/v1/hits/{hit}/brief", {"priority": "urgent"}, format="json").status_code == 403
        assert api.post(f"/api/v1/hits/{hit}/brief/preview", {}, format="json").status_code == 403
        assert Hit.objects.get().state == "new"


def test_strangers_and_readers_see_no_hits(anon, reader_api, hit):
    assert anon.get("/api/v1/hits").status_code == 401
    assert anon.post(f"/api/v1/hits/{hit}/brief/preview", {}, format="json").status_code == 401
    assert reader_api.post(f"/api/v1/hits/{hit}/brief/preview", {}, format="json").status_code == 403
    assert reader_api.get("/api/v1/hits").status_code == 403
    assert reader_api.post(f"/api/v1/hits/{hit}/confirm", {}, format="json").status_code == 403


def test_hit_events_and_answers_have_the_documented_shape(client_for, operator, reader_api, stolen):
    from apps.alpr.serializers import HitOut
    from tests.core.test_realtime import assert_conforms

    next_event = console_listener()
    response = post_reads(reader_api, [a_read("ABC1234", image=image_b64(), candidates=[{"plate": "ABC1284"}])])
    [hit_id] = response.json()["hits"]
    new = next_event()
    assert new["type"] == "hit.new"
    assert_conforms(HitOut(), new["hit"], "hit.new")
    api = client_for(operator)
    api.post(f"/api/v1/hits/{hit_id}/reject", {"reason": "misread"}, format="json")
    update = next_event()
    assert update["type"] == "hit.update"
    assert_conforms(HitOut(), update["hit"], "hit.update")
    answer = api.get(f"/api/v1/hits/{hit_id}").json()
    assert_conforms(HitOut(), answer, "GET hit")
    assert {**answer, "read": None} == {**update["hit"], "read": None}


def test_a_hit_whose_plate_the_list_no_longer_names_is_neither_confirmed_nor_briefed(
    client_for, operator, hit, stolen, officer, make_phone
):
    api = client_for(operator)
    entries = f"/api/v1/hotlists/{stolen['hotlist']['id']}/entries"
    assert api.delete(f"{entries}/{stolen['entry']['id']}").status_code == 204  # the car was recovered
    response = api.post(f"/api/v1/hits/{hit}/confirm", {}, format="json")
    assert response.status_code == 409 and error_code(response) == "entry_not_current"
    assert Hit.objects.get(pk=hit).state == "new"
    # the list names the plate again (tonight's import made a new entry for it): the hit is current
    again = {"plate": "ABC1234", "plate_state": "CA", "reason": "Stolen vehicle"}
    assert api.post(entries, again, format="json").status_code == 201
    assert api.post(f"/api/v1/hits/{hit}/confirm", {}, format="json").status_code == 200
    # confirmed, then the entry goes before the briefing: nothing reaches officers
    make_phone(officer)
    [current] = [e for e in api.get(entries).json()["results"]]
    assert api.delete(f"{entries}/{current['id']}").status_code == 204
    response = api.post(f"/api/v1/hits/{hit}/brief", {"priority": "urgent"}, format="json")
    assert response.status_code == 409 and error_code(response) == "entry_not_current"
    assert not Briefing.objects.exists()
    assert api.post(f"/api/v1/hits/{hit}/reject", {"reason": "not_current"}, format="json").status_code == 409


def test_a_hit_is_briefed_once_unless_no_officer_was_reached(client_for, operator, hit, officer, make_phone):
    """A double click (or two operators at once) must not push the same hit twice; a briefing that
    reached no one (no officer near the read) may be followed by one naming officers."""
    api = client_for(operator)
    nobody = _confirmed_brief(api, hit)  # no phone near the read
    assert nobody["recipients"] == 0
    phone = make_phone(officer, lat=10.0, lon=10.0)
    named = api.post(
        f"/api/v1/hits/{hit}/brief", {"priority": "urgent", "audience": {"officers": [str(officer.pk)]}}, format="json"
    )
    assert named.status_code == 201 and named.json()["recipients"] == 1
    again = api.post(
        f"/api/v1/hits/{hit}/brief", {"priority": "urgent", "audience": {"officers": [str(officer.pk)]}}, format="json"
    )
    assert again.status_code == 409 and error_code(again) == "hit_briefed"
    assert again.json()["error"]["briefing"] == named.json()["id"]
    assert len(pushed(phone.push_token)) == 1 and Briefing.objects.count() == 2
    assert api.get(f"/api/v1/hits/{hit}").json()["briefing"] == named.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_two_operators_briefing_one_hit_at_once_push_it_once(
    postgres_db, client_for, operator, make_user, hit, officer, make_phone
):
    """The second brief waits on the hit's lock while the first commits; then it must see that
    briefing and answer 409, not push the same hit to the same phone again."""
    from apps.alpr.services import hit_brief

    phone = make_phone(officer, lat=10.0, lon=10.0)
    audience = {"officers": [str(officer.pk)]}
    api = client_for(operator)
    assert api.post(f"/api/v1/hits/{hit}/confirm", {}, format="json").status_code == 200
    other = client_for(make_user("operator", username="operator-two"))
    second = second_behind_first(
        lambda: hit_brief(actor=operator, hit=Hit.objects.get(pk=hit), priority="urgent", audience=audience),
        lambda: other.post(f"/api/v1/hits/{hit}/brief", {"priority": "urgent", "audience": audience}, format="json"),
    )
    assert second.status_code == 409, second.content
    assert error_code(second) == "hit_briefed"
    assert Briefing.objects.count() == 1 and len(pushed(phone.push_token)) == 1


def test_a_deep_page_of_hits_is_found_without_joining_the_reads(client_for, operator, reader_api, stolen):
    # The reads are the big table (partitioned by day, no read_at on a hit to prune by): joined
    # before the OFFSET, page 100 of the queue joined and sorted every read kept (1.1 s over 3
    # million). The page is found on the hits alone; only its rows are joined.
    made = []
    for _ in range(3):
        made += post_reads(reader_api, [a_read("ABC1234", plate_state="CA")]).json()["hits"]
    api = client_for(operator)
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/hits?page=2&page_size=1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3 and [h["id"] for h in body["results"]] == [made[1]]
    assert body["results"][0]["read"]["plate_normalized"] == "ABC1234"
    paged = [q["sql"] for q in queries.captured_queries if "OFFSET" in q["sql"].upper()]
    assert paged and not any("alpr_read" in sql for sql in paged), paged
