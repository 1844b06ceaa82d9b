"""The push itself, against the FCM fake over HTTP: what a phone receives, which errors retire
a token (and which never do), retries after flaky answers, rate limits and outages, nothing lost."""

from __future__ import annotations

import time

import httpx
import pytest

from apps.briefings.models import Delivery
from apps.devices.models import Device
from apps.integrations import push
from tests.briefings.conftest import briefing_payload, jpeg, pushed, token_for, upload
from tests.helpers import committed

pytestmark = pytest.mark.django_db  # after-commit effects run per request (tests.helpers.committed)


@pytest.fixture(params=["aiohttp", "firebase-admin"])
def transport(request, fcm, settings):
    """Both ways FcmBackend talks HTTP follow the same rules."""
    settings.RTCC_PUSH_TRANSPORT = request.param
    settings.RTCC_PUSH_BACKOFF_BASE = 0.01
    return request.param


def send(api, officers, **fields):
    response = api.post(
        "/api/v1/briefings", briefing_payload({"officers": [str(o.pk) for o in officers]}, **fields), format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def rows_of(briefing) -> dict:
    return {str(d.device_id): d for d in Delivery.objects.filter(briefing_id=briefing["id"])}


def stats(fcm) -> dict:
    return httpx.get(f"{fcm}/_stats", timeout=5).json()


def test_the_endpoint_seam_points_firebase_admin_at_the_fake(fcm, settings):
    from firebase_admin import messaging

    backend = push.FcmBackend(settings.RTCC_FCM_CREDENTIALS, fcm, transport="firebase-admin")
    service = messaging._get_messaging_service(backend.app)
    assert service._fcm_url == f"{fcm}/v1/projects/{backend.app.project_id}/messages:send"
    token = token_for()
    [result] = backend.send_batch([push.PushMessage(token=token, data={"type": "ping"})])
    assert result.ok and result.message_id.startswith(f"projects/{backend.app.project_id}/messages/")
    assert [m["data"] for m in pushed(token)] == [{"type": "ping"}]


def test_an_urgent_briefing_says_the_essentials_on_the_lock_screen(
    transport, fcm, client_for, operator, officer, make_phone, anon
):
    phone = make_phone(officer)
    api = client_for(operator)
    photo = upload(api, jpeg()).json()
    briefing = send(api, [officer], suspects=[{"description": "30s, red hoodie", "sex": "Male", "photo": photo["id"]}])
    [message] = pushed(phone.push_token)
    assert message["token"] == phone.push_token
    assert message["data"] == {"type": "briefing", "briefing_id": briefing["id"], "priority": "urgent"}
    notification = message["notification"]
    assert notification["title"] == "URGENT: Armed robbery suspect"
    assert notification["body"] == "Male, 30s, red hoodie; Silver Honda Civic ABC123 heading north"
    assert message["android"]["priority"] == "high"
    assert message["apns"]["headers"]["apns-priority"] == "10"
    # the image is the photo's thumbnail, fetchable by a phone that holds no credential
    assert notification["image"].startswith("http://testserver/api/v1/media/" + photo["id"] + "/thumbnail?sig=")
    image = anon.get(notification["image"].replace("http://testserver", ""))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert int(image["Content-Length"]) < 1024 * 1024
    assert rows_of(briefing)[str(phone.pk)].state == "sent"


def test_a_routine_briefing_is_normal_priority_without_image(fcm, client_for, operator, officer, make_phone):
    phone = make_phone(officer)
    send(
        client_for(operator),
        [officer],
        priority="routine",
        title="Be on the lookout",
        suspects=[],
        vehicles=[],
        body="Stolen bicycle, blue, near the park",
    )
    [message] = pushed(phone.push_token)
    assert message["data"]["priority"] == "routine"
    assert message["notification"] == {"title": "Be on the lookout", "body": "Stolen bicycle, blue, near the park"}
    assert message["android"]["priority"] == "normal"
    assert message["apns"]["headers"]["apns-priority"] == "5"


@pytest.mark.parametrize(
    "prefix, code", [("unreg-", "UNREGISTERED"), ("invalid-", "INVALID_ARGUMENT"), ("mismatch-", "SENDER_ID_MISMATCH")]
)
def test_dead_tokens_are_retired(
    prefix, code, transport, fcm, client_for, operator, officer, other_officer, make_phone
):
    dead, healthy = make_phone(officer, token=token_for(prefix)), make_phone(other_officer)
    api = client_for(operator)
    briefing = send(api, [officer, other_officer])
    rows = rows_of(briefing)
    assert (rows[str(dead.pk)].state, rows[str(dead.pk)].error) == ("unregistered", code)
    assert rows[str(healthy.pk)].state == "sent"
    dead.refresh_from_db()
    healthy.refresh_from_db()
    assert dead.push_token is None and dead.push_token_hash is None
    assert healthy.push_token is not None
    listed = api.get(f"/api/v1/briefings/{briefing['id']}/deliveries").json()["results"]
    assert {d["state"] for d in listed} == {"unregistered", "sent"}
    # the next briefing does not try the retired token again: the officer still counts
    again = send(api, [officer])
    assert again["recipients"] == 1
    assert [(d.state, d.error) for d in rows_of(again).values()] == [("failed", "no_push_token")]


def test_a_payload_error_never_retires_a_token(transport, fcm, settings, officer, make_phone):
    phone = make_phone(officer)
    too_big = {"type": "briefing", "blob": "x" * 5000}  # FCM refuses data over 4 KB: the message is at fault
    [result] = push.send_batch([push.PushMessage(token=phone.push_token, data=too_big)])
    assert not result.ok
    assert result.error_code == "INVALID_ARGUMENT"
    assert result.retire_token is False and result.retry is False
    [bad_priority] = (
        push.classify(
            phone.push_token,
            status=400,
            body=httpx.post(
                f"{fcm}/v1/projects/p/messages:send",
                headers={"Authorization": "Bearer x"},
                json={"message": {"token": phone.push_token, "android": {"priority": "urgent!"}}},
            ).content,
        ),
    )
    assert bad_priority.retire_token is False
    phone.refresh_from_db()
    assert phone.push_token is not None


def test_flaky_and_rate_limited_phones_are_retried_and_get_it_once(
    transport, fcm, client_for, operator, make_user, make_phone
):
    officers = [make_user("officer") for _ in range(3)]
    flaky = make_phone(officers[0], token=token_for("flaky-"))
    quota = make_phone(officers[1], token=token_for("quota-"))
    fine = make_phone(officers[2])
    briefing = send(client_for(operator), officers)
    rows = rows_of(briefing)
    assert {rows[str(p.pk)].state for p in (flaky, quota, fine)} == {"sent"}
    assert (rows[str(flaky.pk)].attempts, rows[str(quota.pk)].attempts, rows[str(fine.pk)].attempts) == (2, 2, 1)
    quota_row = rows[str(quota.pk)]
    assert (quota_row.sent_at - quota_row.created_at).total_seconds() >= 1  # Retry-After: 1 was honoured
    for phone in (flaky, quota, fine):
        assert len(pushed(phone.push_token)) == 1
        phone.refresh_from_db()
        assert phone.push_token  # a transient error never retires a token
    counts = stats(fcm)["counts"]
    assert counts["accepted"] == 3 and counts["unavailable"] == 1 and counts["quota"] == 1


def test_an_fcm_outage_loses_nothing(fcm, settings, client_for, operator, make_user, make_phone):
    from apps.briefings.tasks import push_sweep

    settings.RTCC_PUSH_BACKOFF_BASE = 0.01
    settings.RTCC_PUSH_INLINE_RETRY_BUDGET = 0.05  # give up quickly and leave it to the sweep
    officers = [make_user("officer") for _ in range(5)]
    phones = [make_phone(o) for o in officers]
    httpx.post(f"{fcm}/_faults", json={"outage": True}, timeout=5).raise_for_status()
    briefing = send(client_for(operator), officers)
    rows = rows_of(briefing)
    assert {(r.state, r.error) for r in rows.values()} == {("queued", "UNAVAILABLE")}
    assert all(r.attempts >= 1 for r in rows.values())
    assert stats(fcm)["counts"].get("accepted", 0) == 0

    httpx.post(f"{fcm}/_faults", json={"outage": False}, timeout=5).raise_for_status()
    time.sleep(0.3)  # past the last backoff
    with committed():
        push_sweep()
    assert {r.state for r in rows_of(briefing).values()} == {"sent"}
    for phone in phones:
        assert len(pushed(phone.push_token)) == 1
        phone.refresh_from_db()
        assert phone.push_token
    with committed():
        push_sweep()  # nothing left to do, nothing sent twice
    assert stats(fcm)["counts"]["accepted"] == 5


def test_a_push_held_up_never_reaches_a_phone_revoked_or_handed_over_since(
    fcm, settings, client_for, operator, make_user, make_phone
):
    """FCM was down when the briefing was written; meanwhile one phone was revoked (lost), one
    handed to another officer, one put back in the pool, and one registered a new push token.
    When FCM is back only the last gets it, at its new token: the others were sent to the phone
    (and the new holder) all the same, the token copied when the briefing was written."""
    from apps.briefings.tasks import push_sweep
    from apps.devices.services import device_assign, device_revoke, device_unassign, push_token_set

    settings.RTCC_PUSH_BACKOFF_BASE = 0.01
    settings.RTCC_PUSH_INLINE_RETRY_BUDGET = 0.05  # give up quickly and leave it to the sweep
    officers = [make_user("officer") for _ in range(4)]
    lost, handed, pooled, renewed = (make_phone(o) for o in officers)
    old_tokens = [phone.push_token for phone in (lost, handed, pooled, renewed)]
    httpx.post(f"{fcm}/_faults", json={"outage": True}, timeout=5).raise_for_status()
    briefing = send(client_for(operator), officers)
    assert {r.state for r in rows_of(briefing).values()} == {"queued"}

    device_revoke(device=lost)
    device_assign(device=handed, officer_id=make_user("officer").pk)
    device_unassign(device=pooled)
    new_token = token_for()
    push_token_set(device=renewed, token=new_token)
    httpx.post(f"{fcm}/_faults", json={"outage": False}, timeout=5).raise_for_status()
    time.sleep(0.3)  # past the last backoff
    with committed():
        push_sweep()
    rows = rows_of(briefing)
    outcome = {phone: (rows[str(phone.pk)].state, rows[str(phone.pk)].error) for phone in (lost, handed, pooled)}
    assert outcome == {
        lost: ("failed", "device_revoked"),
        handed: ("failed", "device_reassigned"),
        pooled: ("failed", "device_reassigned"),
    }
    assert rows[str(renewed.pk)].state == "sent" and rows[str(renewed.pk)].token == new_token
    assert [len(pushed(token)) for token in old_tokens] == [0, 0, 0, 0]
    assert len(pushed(new_token)) == 1


def test_fcm_unreachable_then_back(fcm, settings, client_for, operator, officer, make_phone):
    from apps.briefings.tasks import push_sweep
    from tests.helpers import free_port

    settings.RTCC_PUSH_BACKOFF_BASE = 0.01
    settings.RTCC_PUSH_INLINE_RETRY_BUDGET = 0.0
    phone = make_phone(officer)
    settings.RTCC_FCM_ENDPOINT = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    briefing = send(client_for(operator), [officer])
    [row] = rows_of(briefing).values()
    assert row.state == "queued" and row.error == "UNAVAILABLE"
    settings.RTCC_FCM_ENDPOINT = fcm
    time.sleep(0.1)
    with committed():
        push_sweep()
    row.refresh_from_db()
    assert row.state == "sent"
    assert len(pushed(phone.push_token)) == 1


def test_gives_up_after_the_last_attempt(fcm, settings, client_for, operator, officer, make_phone):
    settings.RTCC_PUSH_BACKOFF_BASE = 0.01
    settings.RTCC_PUSH_MAX_ATTEMPTS = 2
    make_phone(officer)
    httpx.post(f"{fcm}/_faults", json={"outage": True}, timeout=5).raise_for_status()
    briefing = send(client_for(operator), [officer])
    [row] = rows_of(briefing).values()
    assert (row.state, row.error, row.attempts) == ("failed", "UNAVAILABLE", 2)


def test_many_phones_go_out_in_batches_of_at_most_500(fcm, settings, client_for, operator, make_user):
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.devices.models import DeviceKind

    settings.RTCC_PUSH_BATCH_SIZE = 500
    officers = User.objects.bulk_create([User(username=f"bulk{i}", role="officer") for i in range(510)])
    Device.objects.bulk_create(
        [
            Device(
                kind=DeviceKind.PHONE,
                serial=f"BULK{i}",
                officer=o,
                push_token=f"bulk-{i}",
                push_token_hash=f"{i:064d}",
                push_token_updated_at=timezone.now(),
            )
            for i, o in enumerate(officers)
        ]
    )
    api = client_for(operator)
    briefing = send(api, officers)
    assert briefing["recipients"] == 510
    assert api.get(f"/api/v1/briefings/{briefing['id']}").json()["deliveries"]["sent"] == 510
    assert stats(fcm)["counts"]["accepted"] == 510
