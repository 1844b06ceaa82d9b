"""The embedded default: with no FCM credentials, pushes land in the local outbox, which the
officer (or the officer's phone) reads back for the demo phone page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.briefings.models import Delivery
from apps.integrations import push
from tests.briefings.conftest import briefing_payload, jpeg, upload
from tests.helpers import committed

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox(settings, tmp_path):
    settings.RTCC_FCM_CREDENTIALS = None
    settings.RTCC_PUSH_OUTBOX_DIR = tmp_path / "outbox"
    backend = push.get_backend()
    assert isinstance(backend, push.OutboxBackend)
    return backend


def test_a_briefing_lands_in_the_outbox_as_fcm_would_get_it(
    outbox, client_for, operator, officer, make_phone, phone_client
):
    phone = make_phone(officer)
    api = client_for(operator)
    photo = upload(api, jpeg()).json()
    briefing = api.post(
        "/api/v1/briefings",
        briefing_payload(
            {"officers": [str(officer.pk)]}, suspects=[{"description": "Male, 30s", "photo": photo["id"]}]
        ),
        format="json",
    ).json()
    [row] = outbox.read(token=phone.push_token)
    assert row["data"] == {"type": "briefing", "briefing_id": briefing["id"], "priority": "urgent"}
    assert row["title"] == "URGENT: Armed robbery suspect"
    assert row["body"] == "Male, 30s; Silver Honda Civic ABC123 heading north"
    assert row["priority"] == "high" and row["image"].startswith("http://testserver/api/v1/media/")
    assert Delivery.objects.get(briefing_id=briefing["id"]).state == "sent"

    # the demo phone page reads the officer's pushes, as the officer or as the phone itself
    for reader in (client_for(officer), phone_client(phone)):
        response = reader.get("/api/v1/me/outbox")
        assert response.status_code == 200
        assert [r["data"]["briefing_id"] for r in response.json()["results"]] == [briefing["id"]]
        assert response.json()["results"][0]["phone"] == (phone.label or phone.serial)  # which phone got it
    assert client_for(operator).get("/api/v1/me/outbox").status_code == 403


def test_no_outbox_when_pushing_through_fcm(fcm, client_for, officer):
    assert client_for(officer).get("/api/v1/me/outbox").status_code == 404


def test_a_lost_first_send_is_picked_up_by_the_sweep(outbox, client_for, operator, officer, make_phone, settings):
    """The broker was down when the briefing was saved: its rows wait, queued and never tried,
    until their lease runs out; then the periodic sweep sends them, once."""
    from apps.briefings.tasks import push_sweep

    phone = make_phone(officer)
    briefing = (
        client_for(operator)
        .post("/api/v1/briefings", briefing_payload({"officers": [str(officer.pk)]}), format="json")
        .json()
    )
    outbox.path.unlink()  # as if that first send never happened
    Delivery.objects.filter(briefing_id=briefing["id"]).update(
        state="queued", attempts=0, sent_at=None, next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    with committed():
        push_sweep()  # lease not over yet: nothing happens
    assert outbox.read(token=phone.push_token) == []
    Delivery.objects.filter(briefing_id=briefing["id"]).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with committed():
        push_sweep()
        push_sweep()
    assert len(outbox.read(token=phone.push_token)) == 1
    assert Delivery.objects.get(briefing_id=briefing["id"]).state == "sent"


def test_a_send_whose_worker_died_goes_at_the_sweep_once_its_short_lease_ran_out(
    outbox, client_for, operator, officer, make_phone, broker_down, settings
):
    """A worker took an urgent briefing's rows to send them and was killed while FCM had not
    answered: the rows waited out their two-minute creation lease before the sweep sent them (133 s
    late, measured). The send holds them only as long as it renews its lease (30 s by default)."""
    import time

    from apps.briefings.services import _claim
    from apps.briefings.tasks import push_sweep

    settings.RTCC_PUSH_SEND_LEASE = timedelta(seconds=1)
    phone = make_phone(officer)
    response = client_for(operator).post(
        "/api/v1/briefings", briefing_payload({"officers": [str(officer.pk)]}), format="json"
    )
    assert response.status_code == 201, response.content  # its first send could not be queued
    broker_down()
    ids = [str(pk) for pk in Delivery.objects.filter(briefing_id=response.json()["id"]).values_list("pk", flat=True)]
    Delivery.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now() + timedelta(minutes=2))  # as made
    with committed():
        assert len(_claim(ids, initial=True)) == 1  # the worker's send began ... and the worker died
        push_sweep()  # held by the send's lease: nothing happens
    assert outbox.read(token=phone.push_token) == []
    time.sleep(1.2)  # the lease runs out (no renewal comes from a dead worker)
    with committed():
        push_sweep()
        push_sweep()
    assert len(outbox.read(token=phone.push_token)) == 1
    assert Delivery.objects.get(pk=ids[0]).state == "sent"


def test_a_first_send_that_could_not_be_queued_goes_at_the_next_sweep(
    outbox, client_for, operator, officer, make_phone, broker_down
):
    """Redis down for a few seconds as an urgent briefing was saved: its first send could not be
    queued, and the sweep left the rows alone for their whole lease (two minutes). They are now
    the sweep's at once, and go out at its next run, once."""
    from apps.briefings.tasks import push_sweep

    phone = make_phone(officer)
    response = client_for(operator).post(
        "/api/v1/briefings", briefing_payload({"officers": [str(officer.pk)]}), format="json"
    )
    assert response.status_code == 201, response.content
    assert outbox.read(token=phone.push_token) == []
    broker_down()  # back: the sweep's next run (every 15 s) queues the first send
    with committed():
        push_sweep()
        push_sweep()
    assert len(outbox.read(token=phone.push_token)) == 1
    assert Delivery.objects.get(briefing_id=response.json()["id"]).state == "sent"


def test_a_phone_handed_to_another_officer_shows_each_officer_only_their_own_pushes(
    outbox, client_for, operator, officer, other_officer, it_user, make_phone, phone_client
):
    """IT hands an officer's phone to a colleague: the colleague (and the phone's own page) no
    longer lists what the first officer was sent on it, which stays the first officer's."""
    from apps.devices.services import device_assign

    phone = make_phone(None)
    device_assign(device=phone, officer_id=officer.pk, actor=it_user)
    api = client_for(operator)

    def brief(to) -> str:
        payload = briefing_payload({"officers": [str(to.pk)]})
        response = api.post("/api/v1/briefings", payload, format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def listed(reader) -> list[str]:
        response = reader.get("/api/v1/me/outbox")
        assert response.status_code == 200
        return [row["data"]["briefing_id"] for row in response.json()["results"]]

    first = brief(officer)
    device_assign(device=phone, officer_id=other_officer.pk, actor=it_user)
    assert listed(client_for(other_officer)) == [] and listed(phone_client(phone)) == []
    assert listed(client_for(officer)) == [first]
    second = brief(other_officer)
    assert listed(client_for(other_officer)) == [second] and listed(phone_client(phone)) == [second]
    assert listed(client_for(officer)) == [first]
