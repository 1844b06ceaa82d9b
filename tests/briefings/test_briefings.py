"""Briefings through the API: audience by each mode, counts before and after sending, the
officer's own list and acknowledgement, role checks on every endpoint, bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.briefings.models import Delivery
from tests.briefings.conftest import SCENE, briefing_payload, jpeg, pushed, upload
from tests.conftest import ROLES
from tests.helpers import error_code

pytestmark = pytest.mark.django_db  # after-commit effects run per request (tests.helpers.committed)


def create(api, audience, **fields):
    return api.post("/api/v1/briefings", briefing_payload(audience, **fields), format="json")


def deliveries(api, briefing_id) -> list[dict]:
    body = api.get(f"/api/v1/briefings/{briefing_id}/deliveries", {"page_size": 500}).json()
    return body["results"]


def test_named_officers_get_one_delivery_per_phone_and_officers_without_a_phone_still_count(
    client_for, operator, make_user, make_phone
):
    two_phones, one_phone, no_phone, no_token = (make_user("officer") for _ in range(4))
    a, b = make_phone(two_phones), make_phone(two_phones)
    c = make_phone(one_phone)
    make_phone(one_phone, revoked=True)  # a revoked phone is nobody's phone
    make_phone(no_token, token=None)
    api = client_for(operator)
    audience = {"officers": [str(u.pk) for u in (two_phones, one_phone, no_phone, no_token)]}

    preview = api.post("/api/v1/briefings/preview", {"audience": audience}, format="json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["recipients"] == 4
    assert preview.json()["phones"] == 3
    assert preview.json()["officers_without_phone"] == 2

    response = create(api, audience)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recipients"] == 4 and body["phones"] == 3
    assert sum(body["deliveries"].values()) == 5  # one row per phone, one per officer without a phone

    rows = deliveries(api, body["id"])
    assert {(r["officer"], r["device"], r["state"], r["error"]) for r in rows} == {
        (str(two_phones.pk), str(a.pk), "sent", None),
        (str(two_phones.pk), str(b.pk), "sent", None),
        (str(one_phone.pk), str(c.pk), "sent", None),
        (str(no_phone.pk), None, "failed", "no_phone"),
        (
            str(no_token.pk),
            rows[-1]["device"]
            if rows[-1]["officer"] == str(no_token.pk)
            else next(r["device"] for r in rows if r["officer"] == str(no_token.pk)),
            "failed",
            "no_push_token",
        ),
    }
    assert all(r["sent_at"] for r in rows if r["state"] == "sent")
    for phone in (a, b, c):
        assert len(pushed(phone.push_token)) == 1
    detail = api.get(f"/api/v1/briefings/{body['id']}").json()
    assert detail["recipients"] == 4 and detail["deliveries"]["sent"] == 3


def test_a_briefing_says_how_many_of_its_officers_have_no_phone_to_push_to(
    client_for, operator, officer, make_user, make_phone
):
    """`recipients` counts the whole audience, officers without a phone too: "sent to 3 officers"
    when one of them could never get it on a phone. The briefing, as its preview, says how many
    (section 11.3), for the operator to reach them another way."""
    no_phone, no_token = make_user("officer"), make_user("officer")
    make_phone(officer)
    make_phone(no_token, token=None)
    api = client_for(operator)
    audience = {"officers": [str(u.pk) for u in (officer, no_phone, no_token)]}
    preview = api.post("/api/v1/briefings/preview", {"audience": audience}, format="json").json()
    created = create(api, audience).json()
    assert created["recipients"] == 3 and created["phones"] == 1  # their documented meaning, kept
    assert created["officers_without_phone"] == preview["officers_without_phone"] == 2
    read = api.get(f"/api/v1/briefings/{created['id']}").json()
    listed = next(b for b in api.get("/api/v1/briefings").json()["results"] if b["id"] == created["id"])
    assert read["officers_without_phone"] == listed["officers_without_phone"] == 2
    one = create(api, {"officers": [str(officer.pk)]}).json()
    assert one["recipients"] == 1 and one["officers_without_phone"] == 0


def test_briefings_sent_before_the_count_existed_are_counted_from_their_deliveries(
    client_for, operator, officer, make_user, make_phone
):
    """The migration that added `officers_without_phone` counts it for the briefings already sent."""
    import importlib

    from django.apps import apps

    from apps.briefings.models import Briefing

    migration = importlib.import_module("apps.briefings.migrations.0006_backfill_officers_without_phone_media_in_use")
    no_phone, no_token = make_user("officer"), make_user("officer")
    make_phone(officer)
    make_phone(officer, token=None)  # a phone with no token beside one with: reached
    make_phone(no_token, token=None)
    api = client_for(operator)
    mixed = create(api, {"officers": [str(u.pk) for u in (officer, no_phone, no_token)]}).json()
    reached = create(api, {"officers": [str(officer.pk)]}).json()
    Briefing.objects.update(officers_without_phone=0)
    migration.count_existing(apps, None)
    assert Briefing.objects.get(pk=mixed["id"]).officers_without_phone == 2
    assert Briefing.objects.get(pk=reached["id"]).officers_without_phone == 0


def test_the_backfills_of_the_new_columns_lock_no_table():
    """A migration is one transaction: the backfills ran in the ones that added the columns, and
    the briefings table (every read: phones' polls, the console) waited for the count over every
    delivery, the photos table for the read of every briefing. They run apart, outside any."""
    from django.db import migrations
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    for name in ("0004_briefing_officers_without_phone", "0005_media_in_use"):
        kinds = {type(op) for op in graph["briefings", name].operations}
        assert migrations.RunPython not in kinds, name
    backfill = graph["briefings", "0006_backfill_officers_without_phone_media_in_use"]
    assert not backfill.atomic
    assert {type(op) for op in backfill.operations} == {migrations.RunPython}


def test_incident_audience_reaches_the_officers_assigned_to_it(client_for, operator, make_user, make_phone):
    on_scene, elsewhere = make_user("officer"), make_user("officer")
    phone, other = make_phone(on_scene), make_phone(elsewhere)
    api = client_for(operator)
    incident = api.post("/api/v1/incidents", {"title": "Robbery", "location": SCENE}, format="json").json()
    api.post(f"/api/v1/incidents/{incident['id']}/officers", {"officers": [str(on_scene.pk)]}, format="json")

    assert (
        api.post(
            "/api/v1/briefings/preview", {"incident": incident["id"], "audience": {"incident": True}}, format="json"
        ).json()["recipients"]
        == 1
    )
    response = create(api, {"incident": True}, incident=incident["id"])
    assert response.status_code == 201, response.content
    assert response.json()["recipients"] == 1 and response.json()["incident"] == incident["id"]
    assert len(pushed(phone.push_token)) == 1
    assert pushed(other.push_token) == []


def test_near_audience_counts_only_fresh_locations_within_the_radius(client_for, operator, make_user, make_phone):
    near, stale, far, unlocated = (make_user("officer") for _ in range(4))
    inside = make_phone(near, lat=SCENE["lat"] + 0.002, lon=SCENE["lon"])  # ~220 m north
    old = make_phone(stale, lat=SCENE["lat"], lon=SCENE["lon"], age=timedelta(minutes=11))  # right there, but stale
    away = make_phone(far, lat=SCENE["lat"] + 0.05, lon=SCENE["lon"])  # ~5.5 km
    make_phone(unlocated)
    api = client_for(operator)
    audience = {"near": {**SCENE, "radius_m": 500}}

    preview = api.post("/api/v1/briefings/preview", {"audience": audience}, format="json").json()
    assert preview["recipients"] == 1 and preview["officers"] == [str(near.pk)]
    response = create(api, audience)
    assert response.status_code == 201 and response.json()["recipients"] == 1
    assert len(pushed(inside.push_token)) == 1
    assert pushed(old.push_token) == [] and pushed(away.push_token) == []
    # a wider circle takes in the far phone, never the stale one
    wide = api.post(
        "/api/v1/briefings/preview", {"audience": {"near": {**SCENE, "radius_m": 10_000}}}, format="json"
    ).json()
    assert set(wide["officers"]) == {str(near.pk), str(far.pk)}


def test_near_audience_finds_an_officer_by_the_body_worn_camera_and_pushes_to_the_phone(
    client_for, operator, make_user, make_phone
):
    """The camera on the officer's chest reports where the officer is; the phone may not report a
    location at all. The officer is in the audience, and the push goes to the phone."""
    from apps.devices.models import Device, DeviceKind

    carrying, phoneless, stale = (make_user("officer") for _ in range(3))
    phone = make_phone(carrying)  # no location of its own
    now = timezone.now()
    fresh, old = timedelta(seconds=20), timedelta(minutes=11)
    for who, age in ((carrying, fresh), (phoneless, fresh), (stale, old)):
        Device.objects.create(
            kind=DeviceKind.BODYCAM,
            serial=f"BWC-{who.pk.hex[:10]}",
            officer=who,
            lat=SCENE["lat"] + 0.001,  # ~110 m
            lon=SCENE["lon"],
            location_at=now - age,
        )
    make_phone(stale)
    api = client_for(operator)
    audience = {"near": {**SCENE, "radius_m": 500}}
    preview = api.post("/api/v1/briefings/preview", {"audience": audience}, format="json").json()
    assert set(preview["officers"]) == {str(carrying.pk), str(phoneless.pk)}
    assert preview["phones"] == 1 and preview["officers_without_phone"] == 1
    response = create(api, audience)
    assert response.status_code == 201 and response.json()["recipients"] == 2
    assert len(pushed(phone.push_token)) == 1


def test_a_place_a_phone_reported_for_its_former_holder_does_not_bring_in_the_new_one(
    client_for, operator, make_user, make_phone, it_user
):
    """IT hands a phone that was at the scene a minute ago to an officer at the station: the new
    holder is not near the scene until the phone reports from there for them."""
    from apps.devices.models import Device
    from apps.devices.services import device_assign

    after = make_user("officer")
    phone = make_phone(None, lat=SCENE["lat"], lon=SCENE["lon"], age=timedelta(minutes=1))
    device_assign(device=phone, officer_id=after.pk, actor=it_user)
    api = client_for(operator)
    audience = {"audience": {"near": {**SCENE, "radius_m": 500}}}
    assert api.post("/api/v1/briefings/preview", audience, format="json").json()["officers"] == []
    Device.objects.filter(pk=phone.pk).update(location_at=timezone.now())  # it reports from there now
    assert api.post("/api/v1/briefings/preview", audience, format="json").json()["officers"] == [str(after.pk)]


def test_freshness_is_configurable(client_for, operator, officer, make_phone, settings):
    make_phone(officer, lat=SCENE["lat"], lon=SCENE["lon"], age=timedelta(minutes=3))
    api = client_for(operator)
    audience = {"audience": {"near": {**SCENE, "radius_m": 100}}}
    assert api.post("/api/v1/briefings/preview", audience, format="json").json()["recipients"] == 1
    settings.RTCC_BRIEFING_LOCATION_FRESHNESS = timedelta(minutes=2)
    assert api.post("/api/v1/briefings/preview", audience, format="json").json()["recipients"] == 0


def test_officer_reads_own_briefings_newest_first_and_acknowledges(
    client_for, operator, officer, other_officer, make_phone, phone_client
):
    phone = make_phone(officer)
    make_phone(other_officer)
    api = client_for(operator)
    first = create(api, {"officers": [str(officer.pk)]}, title="First").json()
    second = create(api, {"officers": [str(officer.pk)]}, title="Second").json()
    not_mine = create(api, {"officers": [str(other_officer.pk)]}, title="Not mine").json()

    me = client_for(officer)
    listed = me.get("/api/v1/me/briefings").json()
    assert [b["title"] for b in listed["results"]] == ["Second", "First"]
    assert listed["results"][0]["delivery_state"] == "sent"
    assert me.get(f"/api/v1/briefings/{first['id']}").status_code == 200
    assert me.get(f"/api/v1/briefings/{not_mine['id']}").status_code == 404

    acked = me.post(f"/api/v1/briefings/{second['id']}/ack")
    assert acked.status_code == 200, acked.content
    at = acked.json()["acknowledged_at"]
    again = me.post(f"/api/v1/briefings/{second['id']}/ack")
    assert again.status_code == 200 and again.json()["acknowledged_at"] == at  # idempotent
    rows = deliveries(api, second["id"])
    assert [(r["state"], r["acknowledged_at"] is not None) for r in rows] == [("acknowledged", True)]
    assert me.get("/api/v1/me/briefings").json()["results"][0]["delivery_state"] == "acknowledged"

    # not a recipient: 404, and nothing changes
    response = me.post(f"/api/v1/briefings/{not_mine['id']}/ack")
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert deliveries(api, not_mine["id"])[0]["state"] == "sent"
    assert me.post(f"/api/v1/briefings/{uuid.uuid4()}/ack").status_code == 404

    # the officer's phone reads and acknowledges as the officer
    handset = phone_client(phone)
    assert [b["title"] for b in handset.get("/api/v1/me/briefings").json()["results"]] == ["Second", "First"]
    assert handset.post(f"/api/v1/briefings/{first['id']}/ack").status_code == 200
    assert deliveries(api, first["id"])[0]["state"] == "acknowledged"


def test_an_officer_reading_a_briefing_learns_they_were_named_not_who_else_was(
    client_for, operator, officer, other_officer, make_phone, phone_client
):
    phone = make_phone(officer)
    both = {"officers": [str(officer.pk), str(other_officer.pk)]}
    briefing = create(client_for(operator), both).json()
    me, handset = client_for(officer), phone_client(phone)
    mine = {"officers": [str(officer.pk)]}
    assert me.get(f"/api/v1/briefings/{briefing['id']}").json()["audience"] == mine
    assert me.get("/api/v1/briefings").json()["results"][0]["audience"] == mine
    assert me.get("/api/v1/me/briefings").json()["results"][0]["audience"] == mine
    assert handset.get("/api/v1/me/briefings").json()["results"][0]["audience"] == mine
    assert client_for(operator).get(f"/api/v1/briefings/{briefing['id']}").json()["audience"] == both


def test_acknowledgement_reaches_the_console(client_for, operator, officer, make_phone):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from apps.core.realtime import CONSOLE_GROUP

    make_phone(officer)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(CONSOLE_GROUP, channel)
    try:
        briefing = create(client_for(operator), {"officers": [str(officer.pk)]}).json()
        client_for(officer).post(f"/api/v1/briefings/{briefing['id']}/ack")
        seen = []
        while not seen or seen[-1]["state"] != "acknowledged":
            message = async_to_sync(layer.receive)(channel)
            events = message["events"] if message["type"] == "console.events" else [message["event"]]
            seen += [
                e["delivery"]
                for e in events
                if e["type"] == "delivery.update" and e["delivery"]["briefing"] == briefing["id"]
            ]
        assert [d["state"] for d in seen] == ["sent", "acknowledged"]
        assert seen[-1]["officer"] == str(officer.pk) and seen[-1]["acknowledged_at"]
    finally:
        async_to_sync(layer.group_discard)(CONSOLE_GROUP, channel)


def test_briefing_audit_trail(client_for, operator, officer, make_phone):
    from apps.audit.models import AuditEvent

    make_phone(officer)
    api = client_for(operator)
    media_id = upload(api, jpeg()).json()["id"]
    briefing = create(
        api, {"officers": [str(officer.pk)]}, suspects=[{"description": "Male, 30s", "photo": media_id}]
    ).json()
    client_for(officer).post(f"/api/v1/briefings/{briefing['id']}/ack")
    created = AuditEvent.objects.get(action="briefing.create", object_id=briefing["id"])
    assert created.details["recipients"] == 1
    assert created.details["audience"] == {"officers": [str(officer.pk)]}
    assert AuditEvent.objects.filter(action="media.upload", object_id=media_id).exists()
    assert AuditEvent.objects.filter(action="briefing.acknowledge", object_id=briefing["id"]).count() == 1


# Role checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_roles_on_every_briefing_endpoint(role, personas, client_for, make_phone):
    officer, operator = personas["officer"], personas["operator"]
    make_phone(officer)
    briefing = create(client_for(operator), {"officers": [str(officer.pk)]}).json()
    media_id = upload(client_for(operator), jpeg()).json()["id"]
    api = client_for(personas[role])
    got = {
        "create": create(api, {"officers": [str(officer.pk)]}).status_code,
        "preview": api.post(
            "/api/v1/briefings/preview", {"audience": {"officers": [str(officer.pk)]}}, format="json"
        ).status_code,
        "upload": upload(api, jpeg()).status_code,
        "list": api.get("/api/v1/briefings").status_code,
        "read": api.get(f"/api/v1/briefings/{briefing['id']}").status_code,
        "deliveries": api.get(f"/api/v1/briefings/{briefing['id']}/deliveries").status_code,
        "mine": api.get("/api/v1/me/briefings").status_code,
        "image": api.get(f"/api/v1/media/{media_id}/image").status_code,
        "ack": api.post(f"/api/v1/briefings/{briefing['id']}/ack").status_code,
    }
    expected = {
        "operator": {
            "create": 201,
            "preview": 200,
            "upload": 201,
            "list": 200,
            "read": 200,
            "deliveries": 200,
            "mine": 403,
            "image": 200,
            "ack": 403,
        },
        "officer": {
            "create": 403,
            "preview": 403,
            "upload": 403,
            "list": 200,
            "read": 200,
            "deliveries": 200,
            "mine": 200,
            "image": 404,  # a photo in no briefing sent to them
            "ack": 200,
        },
    }.get(role, {name: 403 for name in got})
    assert got == expected


def test_anonymous_is_401_everywhere(anon):
    some = uuid.uuid4()
    for method, path in [
        ("post", "/api/v1/briefings"),
        ("post", "/api/v1/briefings/preview"),
        ("get", "/api/v1/briefings"),
        ("get", f"/api/v1/briefings/{some}"),
        ("get", f"/api/v1/briefings/{some}/deliveries"),
        ("post", f"/api/v1/briefings/{some}/ack"),
        ("get", "/api/v1/me/briefings"),
        ("post", "/api/v1/media"),
        ("get", f"/api/v1/media/{some}/image"),
        ("get", f"/api/v1/media/{some}/thumbnail"),
    ]:
        response = getattr(anon, method)(path)
        assert response.status_code == 401, (method, path)
        assert error_code(response) == "not_authenticated"


def test_a_bodycam_cannot_read_briefings(make_phone, phone_client, officer, client_for, operator):
    from apps.devices.models import DeviceKind

    cam = make_phone(officer)
    cam.kind = DeviceKind.BODYCAM
    cam.save(update_fields=["kind"])
    handset = phone_client(cam)
    assert handset.get("/api/v1/me/briefings").status_code == 403
    assert (
        handset.post("/api/v1/briefings", briefing_payload({"officers": [str(officer.pk)]}), format="json").status_code
        == 403
    )


def test_a_deactivated_officers_phone_no_longer_reads_or_acknowledges_their_briefings(
    make_phone, phone_client, officer, client_for, operator, it_user
):
    """Their own token ends at once; the phone, still assigned to them, read and acknowledged
    their briefings, and the centre saw an acknowledgement from an inactive officer."""
    from apps.accounts.services import user_update

    handset = phone_client(make_phone(officer))
    created = client_for(operator).post(
        "/api/v1/briefings", briefing_payload({"officers": [str(officer.pk)]}), format="json"
    )
    assert created.status_code == 201, created.content
    briefing = created.json()["id"]
    assert handset.get("/api/v1/me/briefings").json()["count"] == 1
    user_update(user=officer, actor=it_user, is_active=False)
    assert handset.get("/api/v1/me/briefings").status_code == 403
    assert handset.get(f"/api/v1/briefings/{briefing}").status_code == 403
    assert handset.post(f"/api/v1/briefings/{briefing}/ack").status_code == 403
    assert not Delivery.objects.filter(briefing_id=briefing, acknowledged_at__isnull=False).exists()


def test_a_phones_credentials_and_its_officer_cost_one_query(make_phone, officer, django_assert_num_queries):
    """IsOfficerPhone checks the phone's officer is active: that read the officer with a second
    query on every request of every phone (the officer page polls every 5 s)."""
    from rest_framework.test import APIRequestFactory

    from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token
    from apps.devices.authentication import DeviceTokenAuthentication
    from apps.devices.permissions import IsOfficerPhone

    device = make_phone(officer)
    token = new_token(DEVICE_PREFIX)
    device.token_hash = hash_token(token)
    device.save(update_fields=["token_hash"])
    request = APIRequestFactory().get("/api/v1/me/briefings", HTTP_AUTHORIZATION=f"Bearer {token}")
    with django_assert_num_queries(1):
        request.user, _ = DeviceTokenAuthentication().authenticate(request)
        assert IsOfficerPhone().has_permission(request, None)


def test_the_list_gives_each_reader_what_a_briefing_read_alone_gives(
    make_phone, phone_client, officer, client_for, operator
):
    """Section 11.3: operators get `deliveries` counts, an officer or their phone their own
    `delivery_state` and `acknowledged_at`; the list gave neither."""
    handset = phone_client(make_phone(officer))
    created = client_for(operator).post(
        "/api/v1/briefings", briefing_payload({"officers": [str(officer.pk)]}), format="json"
    )
    briefing = created.json()["id"]
    handset.post(f"/api/v1/briefings/{briefing}/ack")
    for reader in (client_for(officer), handset):
        [item] = reader.get("/api/v1/briefings").json()["results"]
        alone = reader.get(f"/api/v1/briefings/{briefing}").json()
        assert item["delivery_state"] == alone["delivery_state"] == "acknowledged"
        assert item["acknowledged_at"] == alone["acknowledged_at"] is not None
    listed = next(b for b in client_for(operator).get("/api/v1/briefings").json()["results"] if b["id"] == briefing)
    assert listed["deliveries"] == client_for(operator).get(f"/api/v1/briefings/{briefing}").json()["deliveries"]
    assert listed["deliveries"]["acknowledged"] == 1


# Bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"audience": None}, "audience"),
        ({"audience": {}}, "audience"),
        ({"audience": {"officers": []}}, "audience"),
        ({"audience": {"officers": ["nope"]}}, "audience"),
        ({"audience": {"incident": True}}, "incident"),  # no incident given
        ({"audience": {"incident": False}}, "audience"),
        ({"audience": {"everyone": True}}, "audience"),
        ({"audience": {"near": {"lat": 95, "lon": 0, "radius_m": 100}}}, "audience"),
        ({"audience": {"near": {"lat": 40, "lon": -74}}}, "audience"),
        ({"priority": "whenever"}, "priority"),
        ({"priority": None}, "priority"),
        ({"title": ""}, "title"),
        ({"suspects": [{"name": "no description"}]}, "suspects"),
        ({"suspects": [{"description": "x", "photo": "not-a-uuid"}]}, "suspects"),
        ({"vehicles": [{"make": "no plate"}]}, "vehicles"),
        ({"vehicles": [{"plate": "X", "year": "last year"}]}, "vehicles"),
        ({"vehicles": [{"plate": "--"}]}, "vehicles.0.plate"),  # the plate rules of plate readers
        ({"vehicles": [{"plate": "ABC123", "plate_state": "PENN"}]}, "vehicles.0.plate_state"),
        ({"vehicles": [{"plate": "ABC123", "plate_state": "1A"}]}, "vehicles.0.plate_state"),
        ({"incident": "not-a-uuid"}, "incident"),
    ],
)
def test_bad_briefings_are_400_and_store_nothing(change, field, client_for, operator, officer, make_phone):
    from apps.briefings.models import Briefing

    make_phone(officer)
    payload = {**briefing_payload({"officers": [str(officer.pk)]}), **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = client_for(operator).post("/api/v1/briefings", payload, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert any(name.startswith(field) for name in response.json()["error"]["fields"]), response.json()
    assert Briefing.objects.count() == 0 and Delivery.objects.count() == 0


def test_unknown_ids_are_400_and_store_nothing(client_for, operator, officer, clerk, make_phone):
    from apps.briefings.models import Briefing

    make_phone(officer)
    api = client_for(operator)
    for audience, extra, field in [
        ({"officers": [str(officer.pk), str(uuid.uuid4())]}, {}, "audience.officers"),
        ({"officers": [str(clerk.pk)]}, {}, "audience.officers"),  # not an officer
        ({"officers": [str(officer.pk)]}, {"incident": str(uuid.uuid4())}, "incident"),
        (
            {"officers": [str(officer.pk)]},
            {"suspects": [{"description": "x", "photo": str(uuid.uuid4())}]},
            "suspects.0.photo",
        ),
        (
            {"officers": [str(officer.pk)]},
            {"vehicles": [{"plate": "X1", "photo": str(uuid.uuid4())}]},
            "vehicles.0.photo",
        ),
    ]:
        response = api.post("/api/v1/briefings", briefing_payload(audience, **extra), format="json")
        assert response.status_code == 400, (audience, extra, response.content)
        assert field in response.json()["error"]["fields"], response.json()
    assert Briefing.objects.count() == 0 and Delivery.objects.count() == 0
    assert api.get(f"/api/v1/briefings/{uuid.uuid4()}").status_code == 404
    assert api.get(f"/api/v1/briefings/{uuid.uuid4()}/deliveries").status_code == 404
    assert api.get("/api/v1/briefings/not-a-uuid").status_code == 404
    assert api.get("/api/v1/briefings", {"page": "x"}).status_code == 400


@pytest.mark.django_db(transaction=True)  # the consumer reads the token from another thread
def test_the_console_socket_shows_each_delivery(client_for, operator, make_user, make_phone):
    """Through the real console consumer: one delivery.update frame per phone as the pushes go out."""
    from channels.db import database_sync_to_async

    from apps.accounts.services import token_issue
    from tests.control.conftest import SOCKET_WAIT, bearer, connected, run

    officers = [make_user("officer") for _ in range(3)]
    phones = [make_phone(o) for o in officers]
    token, _ = token_issue(user=operator)
    api = client_for(operator)

    async def scenario():
        communicator = await connected("/ws/console/", bearer(token))
        try:
            briefing = (await database_sync_to_async(create)(api, {"officers": [str(o.pk) for o in officers]})).json()
            frames = []
            while len(frames) < 3:
                frame = await communicator.receive_json_from(timeout=SOCKET_WAIT)
                if frame["type"] == "delivery.update" and frame["delivery"]["briefing"] == briefing["id"]:
                    frames.append(frame["delivery"])
            return frames
        finally:
            await communicator.disconnect()

    frames = run(scenario)
    assert {(f["device"], f["state"]) for f in frames} == {(str(p.pk), "sent") for p in phones}
