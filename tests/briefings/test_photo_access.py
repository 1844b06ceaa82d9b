"""Briefing photos are for the people a briefing reached: operators, and each officer (and
that officer's phone) it was sent to. The credential-free notification link is short-lived."""

from __future__ import annotations

import pytest

from tests.briefings.conftest import briefing_payload, jpeg, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def briefed_photo(client_for, operator, officer, make_phone):
    """A photo in a briefing sent to `officer` (who has a phone)."""
    make_phone(officer)
    media = upload(client_for(operator), jpeg()).json()
    payload = briefing_payload({"officers": [str(officer.pk)]})
    payload["suspects"][0]["photo"] = media["id"]
    response = client_for(operator).post("/api/v1/briefings", payload, format="json")
    assert response.status_code == 201, response.content
    return media


def _urls(media_id: str) -> list[str]:
    return [f"/api/v1/media/{media_id}", f"/api/v1/media/{media_id}/image", f"/api/v1/media/{media_id}/thumbnail"]


def test_the_briefed_officer_and_their_phone_see_the_photo(client_for, officer, briefed_photo, phone_client):
    from apps.devices.models import Device

    for url in _urls(briefed_photo["id"]):
        assert client_for(officer).get(url).status_code == 200, url
    phone = Device.objects.get(officer=officer, kind="phone")
    assert phone_client(phone).get(_urls(briefed_photo["id"])[1]).status_code == 200


def test_another_officer_cannot_see_a_photo_of_a_briefing_not_sent_to_them(
    client_for, other_officer, briefed_photo, make_phone, phone_client
):
    for url in _urls(briefed_photo["id"]):
        assert client_for(other_officer).get(url).status_code == 404, url
    phone = make_phone(other_officer)
    assert phone_client(phone).get(_urls(briefed_photo["id"])[1]).status_code == 404


def test_an_officer_cannot_see_a_photo_in_no_briefing(client_for, operator, officer):
    media = upload(client_for(operator), jpeg()).json()
    for url in _urls(media["id"]):
        assert client_for(officer).get(url).status_code == 404, url
    assert client_for(operator).get(_urls(media["id"])[1]).status_code == 200


def test_the_credential_free_thumbnail_link_lasts_minutes_not_a_day(client_for, operator, anon):
    from datetime import timedelta

    from apps.briefings import conf

    assert conf.media_thumbnail_link_ttl() <= timedelta(minutes=15)
    media = upload(client_for(operator), jpeg()).json()
    assert anon.get(media["thumbnail_url"].replace("http://testserver", "")).status_code == 200


def test_a_push_sent_later_carries_a_freshly_signed_image_link(client_for, operator, officer, make_phone):
    """The notification's image link is signed when the push goes out, not when the briefing was made."""
    from apps.briefings import media as media_links
    from apps.briefings.models import Briefing
    from apps.briefings.notification import message_for

    make_phone(officer)
    media = upload(client_for(operator), jpeg()).json()
    payload = briefing_payload({"officers": [str(officer.pk)]})
    payload["vehicles"][0]["photo"] = media["id"]
    client_for(operator).post("/api/v1/briefings", payload, format="json")
    briefing = Briefing.objects.get()
    assert briefing.image_url
    briefing.image_url = briefing.image_url.split("sig=")[0] + "sig=long-expired"
    image = message_for(briefing).image
    assert image.startswith(briefing.image_url.split("?")[0])
    assert media_links.thumbnail_signature_ok(media["id"], image.split("sig=")[1])


@pytest.fixture
def clock(monkeypatch):
    """The wall clock signatures are made and checked with, set by the test: clock(seconds)."""
    import time

    def set_to(seconds: float) -> None:
        monkeypatch.setattr(time, "time", lambda: seconds)

    return set_to


def test_a_phone_polling_its_briefings_gets_the_same_answer_within_a_minute(
    briefed_photo, officer, phone_client, clock
):
    """The officer's page polls every 5 s; a thumbnail link signed with each second made every
    answer new, and the page drew every card and fetched every thumbnail again."""
    from apps.devices.models import Device

    phone = phone_client(Device.objects.get(officer=officer, kind="phone"))
    start = 1_800_000_000 // 60 * 60  # a window's start: a tenth of the 10-minute lifetime
    answers = []
    for at in (start, start + 5, start + 59.9):
        clock(at)
        answers.append(phone.get("/api/v1/me/briefings").content)
    assert answers[0] == answers[1] == answers[2]
    assert b"thumbnail?sig=" in answers[0]
    clock(start + 60)
    assert phone.get("/api/v1/me/briefings").content != answers[0]  # the next window's link


def test_an_answers_link_lives_at_most_its_lifetime_and_a_pushs_the_whole_of_it(clock):
    """Section 11.2: valid for 10 minutes. A link made in a window lives until the window's start
    plus the lifetime: 9 to 10 minutes from when it was handed out, never longer."""
    import uuid

    from apps.briefings import conf
    from apps.briefings import media as links

    media_id = uuid.uuid4()
    lifetime = int(conf.media_thumbnail_link_ttl().total_seconds())
    window = links.link_window_seconds()
    assert window == 60
    start = 1_800_000_000 // window * window
    for offset in (0, 1, window - 1):
        clock(start + offset)
        signature = links.thumbnail_signature(media_id)
        clock(start + offset + lifetime - window)
        assert links.thumbnail_signature_ok(media_id, signature)
        clock(start + lifetime)
        assert links.thumbnail_signature_ok(media_id, signature)
        clock(start + lifetime + 1)
        assert not links.thumbnail_signature_ok(media_id, signature)
    clock(start + window - 1)  # a push's link: signed as it goes out, for the whole lifetime
    pushed = links.resigned(f"/api/v1/media/{media_id}/thumbnail?sig=old").split("sig=")[1]
    clock(start + window - 1 + lifetime)
    assert links.thumbnail_signature_ok(media_id, pushed)
    clock(start + window + lifetime)
    assert not links.thumbnail_signature_ok(media_id, pushed)
