"""The console on a phone-sized screen (390 px): no page scrolls sideways. Operators carry the
console on tablets and phones at a scene, and an officer's own page is read on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.console.conftest import wait_until
from tests.helpers import at_once

PAGES = {
    "operator": [
        "/fleet/",
        "/map/",
        "/incidents/",
        "/briefings/new/",
        "/alpr/hits/",
        "/alpr/hotlists/",
        "/alpr/plates/",
        "/footage/",
        "/leads/",
        "/assists/",
        "/statistics/",
        "/transparency/",
    ],
    "clerk": ["/footage/", "/leads/", "/assists/", "/statistics/"],
    "it": ["/devices/", "/users/", "/fleet/", "/statistics/"],
    "officer": ["/phone/"],
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", list(PAGES))
def test_no_page_scrolls_sideways_on_a_phone(open_as, console_server, personas, role):
    page = open_as(personas[role], PAGES[role][0], width=390, height=844)
    wide = {}
    for path in PAGES[role]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        wait_until(page, "document.readyState === 'complete'")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            wide[path] = overflow
    assert wide == {}, f"pages wider than the screen (px too wide): {wide}"


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


WIDEST = """() => {
  const edge = document.documentElement.clientWidth + 0.5;
  const out = (e) => e.getBoundingClientRect().right > edge;
  return [...document.querySelectorAll('body *')]
    .filter((e) => out(e) && !(e.parentElement && out(e.parentElement)))
    .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join('.')}`);
}"""


def _wide(page) -> dict:
    """How many pixels too wide, and the outermost elements that stick out (for the failure message)."""
    overflow = _overflow(page)
    return {"px": overflow, "sticking_out": page.evaluate(WIDEST)} if overflow > 0 else {"px": 0}


@pytest.mark.django_db(transaction=True)
def test_plate_and_lead_pages_with_their_data_fit_a_phone(open_as, console_server, operator, it_user):
    """With data in them: a list's entries table, the hit queue's items, a NIBIN lead's events."""
    from apps.accounts.services import token_issue
    from apps.leads.services import lead_create
    from tests.alpr.conftest import a_read
    from tests.console.devices import call, register_and_enroll
    from tests.leads.conftest import nibin_payload

    url, token = console_server.url, token_issue(user=operator)[0]
    listed = {"name": "NCIC stolen vehicles, statewide", "source": "ncic"}
    hotlist = call(url, token, "POST", "/api/v1/hotlists", json=listed)
    for plate in ("KXT4821", "KXT4822"):
        entry = {"plate": plate, "reason": "Stolen vehicle, taken at gunpoint", "case_number": "2026-000123"}
        call(url, token, "POST", f"/api/v1/hotlists/{hotlist['id']}/entries", json=entry)
    _, reader = register_and_enroll(url, token_issue(user=it_user)[0], kind="alpr", serial="NARROW-ALPR-1")
    call(url, reader, "POST", "/api/v1/plate-reads", json={"reads": [a_read("KXT4821"), a_read("KXT4B22")]})
    events = nibin_payload()["events"]
    (lead,) = at_once(  # off the browser's event loop: the lead's console event goes after commit
        lambda: lead_create(
            actor=operator, kind="nibin", case_number="2026-000456", summary="x", nibin_lead_number="N-1", events=events
        )
    )
    page = open_as(operator, "/alpr/hotlists/", width=390, height=844)
    page.click("[data-list]")
    expect(page.locator("#list-detail table")).to_be_visible()
    wide = {"hotlists": _wide(page)}
    page.goto("/alpr/hits/")
    page.locator("[data-hit]").first.click()
    expect(page.locator("#hit-detail [data-act=confirm]")).to_be_visible()
    wide["hits"] = _wide(page)
    page.goto(f"/leads/{lead.pk}/")
    expect(page.locator("#lead-body table")).to_be_visible()
    wide["lead"] = _wide(page)
    assert wide == {"hotlists": {"px": 0}, "hits": {"px": 0}, "lead": {"px": 0}}


@pytest.mark.django_db(transaction=True)
def test_the_fleet_walls_start_and_stop_are_in_view_on_a_phone(open_as, console_server, operator, officer):
    # The table scrolled sideways inside its card: Start sat at x 1084 on a 390 px screen.
    from tests.control.conftest import create_device

    create_device(officer=officer, label="Scene cam")
    page = open_as(operator, "/fleet/", width=390, height=844)
    start = page.locator('#fleet button[data-action="start_recording"]').first
    expect(start).to_be_visible()
    box = start.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.querySelector('#fleet').closest('.table-wrap').scrollWidth") <= 390
