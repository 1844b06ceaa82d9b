"""Leads, assists, statistics and transparency pages: who may open them, what they show; and in
Chromium, the review queue (never the viewer's own lead) and the public transparency page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from apps.accounts.services import token_issue
from apps.leads.services import lead_create
from apps.outcomes.services import assist_create
from tests.console.conftest import screenshot
from tests.console.devices import call
from tests.helpers import at_once, console_login


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        console_login(client, user)  # as through the console login (the login policy)
    return client


PAGES = {
    "/leads/": ("operator", "clerk"),
    "/assists/": ("operator", "clerk"),
    "/statistics/": ("operator", "clerk", "it"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(PAGES))
@pytest.mark.parametrize("role", ["officer", "operator", "clerk", "it"])
def test_pages_by_role(path, role, personas):
    response = _client(personas[role]).get(path)
    assert response.status_code == (200 if role in PAGES[path] else 403)
    anonymous = _client().get(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


@pytest.mark.django_db
def test_statistics_page_draws_the_assists(client_for, operator, clerk):
    assist_create(actor=operator, outcomes=["recovered_gun", "arrest"], tools=["nibin"])
    page = _client(clerk).get("/statistics/?interval=month").content.decode()
    assert "<svg" in page and "Guns recovered" in page and "Download CSV" in page
    assert _client(clerk).get("/statistics/?from=nonsense").status_code == 400


@pytest.mark.django_db
def test_the_transparency_page_is_public_and_counts_only(make_user):
    analyst = make_user("operator", username="jdoe7731", full_name="Jane Doe-Analyst")
    lead_create(actor=analyst, kind="other", case_number="CASE-SECRET-1", summary="tip from a neighbour")
    page = _client().get("/transparency/?from=2020-01-01")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Other leads" in text and text.count("<svg") >= 10
    for secret in ("CASE-SECRET-1", "jdoe7731", "Jane Doe", "neighbour"):
        assert secret not in text
    assert "Jan 2021" in text and "Jan 21" not in text  # a month, not the 21st of January
    assert _client().get("/transparency/?from=garbage").status_code == 400


@pytest.mark.django_db
def test_show_with_the_dates_as_filled_in_keeps_today_and_a_bad_window_says_why(operator, clerk):
    assist_create(actor=operator, outcomes=["arrest"], tools=["nibin"])
    lead_create(actor=operator, kind="other", case_number="2026-5", summary="x")
    first = _client(clerk).get("/statistics/").content.decode()
    dates = dict(re.findall(r'name="(from|to)" value="([0-9-]{10})"', first))
    assert set(dates) == {"from", "to"}
    shown = _client(clerk).get("/statistics/", {**dates, "interval": "month"}).content.decode()  # Show, unchanged
    assert re.search(r'id="total-assists">1<', shown), "today's assist dropped"
    assert f'name="to" value="{dates["to"]}"' in shown  # the same last day, not the day after
    public = _client().get("/transparency/", dates).content.decode()
    assert re.search(r'data-figure="Other leads">1<', public), "today's lead dropped"
    # One day is a window; a window backwards is refused inside the page, saying why.
    same_day = _client(clerk).get("/statistics/", {"from": dates["to"], "to": dates["to"], "interval": "day"})
    assert same_day.status_code == 200 and re.search(r'id="total-assists">1<', same_day.content.decode())
    for client, path in ((_client(clerk), "/statistics/"), (_client(), "/transparency/")):
        backwards = client.get(path, {"from": "2026-03-02", "to": "2026-03-01"})
        assert backwards.status_code == 400 and backwards["Content-Type"].startswith("text/html")
        text = backwards.content.decode()
        assert "Must be before to." in text and 'value="2026-03-02"' in text  # the form as filled in
    too_many = _client(clerk).get("/statistics/", {"from": "2001-01-01", "to": "2020-01-01", "interval": "day"})
    assert too_many.status_code == 400 and "choose a longer interval" in too_many.content.decode()


@pytest.mark.django_db(transaction=True)
def test_review_queue_hides_my_own_lead_and_a_second_operator_verifies(open_as, console_server, operator, make_user):
    second = make_user("operator", username="operator2", full_name="Second Operator")
    # Each lead made in a thread of its own: this one runs the browser's event loop, and a lead's
    # console event goes out after commit (async_to_sync).
    mine, theirs = at_once(
        lambda: lead_create(actor=operator, kind="other", case_number="2026-77", summary="Anonymous tip: grey van"),
        lambda: lead_create(actor=second, kind="other", case_number="2026-78", summary="Pawn shop record"),
    )

    page = open_as(operator, "/leads/")
    queue = page.locator("#review-queue")
    expect(queue.locator(f"[data-lead='{theirs.pk}']")).to_be_visible()
    expect(queue.locator(f"[data-lead='{mine.pk}']")).to_have_count(0)
    expect(page.locator("#leads").locator(f"[data-lead='{mine.pk}']")).to_be_visible()
    screenshot(page, "leads-review-queue")

    page.goto(f"/leads/{mine.pk}/")
    expect(page.locator("#own-lead")).to_be_visible()
    expect(page.locator("#review-card")).to_be_hidden()

    other = open_as(second, "/leads/")
    other.wait_for_function("window.rtccLive && window.rtccLive.isOpen")
    # A lead created while the queue is open joins it without a reload.
    late = call(  # through the server, as another operator's console would make it
        console_server.url,
        token_issue(user=operator)[0],
        "POST",
        "/api/v1/leads",
        json={"kind": "other", "case_number": "2026-79", "summary": "Second tip: same van"},
    )
    expect(other.locator(f"#review-queue [data-lead='{late['id']}']")).to_be_visible()
    page.wait_for_function("window.rtccLive && window.rtccLive.isOpen")
    other.locator(f"#review-queue [data-lead='{mine.pk}'] a").click()
    other.wait_for_url(re.compile(rf"/leads/{mine.pk}/$"))
    other.check("#review-form input[value=verified]")
    other.fill("#review-form textarea[name=note]", "Called the tipster back; consistent.")
    other.click("#review-form button[type=submit]")
    expect(other.locator("#lead-state")).to_have_text("verified")
    expect(other.locator("#share-card")).to_be_visible()
    # The creator's open page shows the review without a reload, and now offers to share.
    expect(page.locator("#lead-state")).to_have_text("verified")
    expect(page.locator("#share-card")).to_be_visible()
    expect(page.locator("#own-lead")).to_be_hidden()
    assert not page.errors and not other.errors


@pytest.mark.django_db(transaction=True)
def test_transparency_page_in_a_browser_moves_with_activity(browser, console_server, operator):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=console_server.url)
    page = context.new_page()
    page.goto("/transparency/")
    other_leads = page.locator("[data-figure='Other leads']")
    expect(other_leads).to_have_text("0")
    at_once(lambda: lead_create(actor=operator, kind="other", case_number="2026-99", summary="x"))
    page.reload()
    expect(other_leads).to_have_text("1")
    expect(page.locator(".chart-card svg").first).to_be_visible()
    assert "2026-99" not in page.content()
    screenshot(page, "transparency")
    context.close()


@pytest.mark.django_db(transaction=True)
def test_an_operator_creates_a_facial_recognition_lead_with_its_probe_image(open_as, console_server, operator):
    from apps.leads.models import Lead
    from tests.briefings.conftest import jpeg

    page = open_as(operator, "/leads/")
    page.fill("#lead-form [name=case_number]", "2026-000321")
    page.fill("#lead-form [name=summary]", "Store camera still, robbery on Elm St")
    page.set_input_files(
        "#lead-form [name=probe_file]", files=[{"name": "probe.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    expect(page.locator("#probe-preview img")).to_be_visible()
    page.fill("#lead-form [name=search_system]", "State DMV FR")
    page.fill("#lead-form [data-candidate] [name=name]", "Candidate One")
    page.click("#lead-form button[type=submit]")
    page.wait_for_url(re.compile(r"/leads/[0-9a-f-]{36}/$"))
    expect(page.locator("#lead-body")).to_contain_text("Investigative lead only - not probable cause.")
    expect(page.locator("#lead-body")).to_contain_text("Candidate One")
    expect(page.locator("#own-lead")).to_be_visible()
    # No linked event: the page says so instead of a search form over an empty map.
    expect(page.locator("#related-none")).to_be_visible()
    expect(page.locator("#related-map")).to_be_hidden()
    expect(page.locator("#related-form")).to_be_hidden()
    lead = Lead.objects.get(case_number="2026-000321")
    assert lead.probe_media_id is not None and lead.candidates[0]["name"] == "Candidate One"
    screenshot(page, "lead-created")
    assert not page.errors


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "clerk"])
def test_an_unknown_lead_page_is_a_404_not_an_empty_lead(personas, role):
    response = _client(personas[role]).get("/leads/00000000-0000-4000-8000-000000000000/")
    assert response.status_code == 404
    lead = lead_create(actor=personas["operator"], kind="other", case_number="2026-7", summary="x")
    assert _client(personas[role]).get(f"/leads/{lead.pk}/").status_code == 200


PLACE = {"lat": 40.73, "lon": -73.99}


@pytest.mark.django_db(transaction=True)
def test_a_nibin_lead_with_an_event_shows_it_on_the_related_evidence_map(open_as, console_server, operator):
    (lead,) = at_once(  # off the browser's event loop: the lead's console event goes after commit
        lambda: lead_create(
            actor=operator,
            kind="nibin",
            case_number="2026-000654",
            summary="Casings linked across two scenes",
            nibin_lead_number="NIBIN-26-0654",
            events=[{"case_number": "2026-000987", "occurred_at": "2026-10-02T01:15:00Z", "location": PLACE}],
        )
    )
    page = open_as(operator, f"/leads/{lead.pk}/")
    expect(page.locator("#related-map [data-scene='e0']")).to_be_visible()
    expect(page.locator("#related-form")).to_be_visible()
    expect(page.locator("#related-none")).to_be_hidden()
    expect(page.locator("#clip-count")).to_have_text("(0)")
    assert not page.errors


@pytest.mark.django_db(transaction=True)
def test_a_clerk_sees_that_a_lead_was_shared_without_a_link_to_a_page_they_cannot_open(
    open_as, console_server, operator, clerk, officer, make_user
):
    from apps.leads.services import lead_review, lead_share

    second = make_user("operator", username="operator2")

    def shared():
        lead = lead_create(actor=operator, kind="other", case_number="2026-80", summary="Tip: blue sedan")
        lead = lead_review(actor=second, lead=lead, decision="verified", note="checked")
        lead_share(actor=operator, lead=lead, priority="routine", audience={"officers": [str(officer.pk)]})
        return lead

    (lead,) = at_once(shared)  # off the browser's event loop: the lead's events go after commit
    page = open_as(clerk, f"/leads/{lead.pk}/")
    listed = page.locator("#lead-briefings [data-briefing]")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Shared as briefing")
    expect(page.locator("#lead-briefings a")).to_have_count(0)  # the briefing page is the operators'
    page = open_as(operator, f"/leads/{lead.pk}/")
    expect(page.locator("#lead-briefings a[data-briefing]")).to_have_count(1)
    assert not page.errors
