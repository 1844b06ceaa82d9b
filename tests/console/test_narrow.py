"""The console on a phone-sized screen (390 px): no page scrolls sideways. Operators carry the
console on tablets and phones at a scene, and an officer's own page is read on a phone."""

from __future__ import annotations

import pytest

from tests.console.conftest import wait_until

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
