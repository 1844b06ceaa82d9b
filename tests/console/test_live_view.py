"""Live view end to end: an operator opens a live view of a simulated camera from the fleet wall,
and the <video> element plays the camera's real fMP4 segments (through hls.js, in Chromium)."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from apps.accounts.services import token_issue
from tests.console.conftest import screenshot, wait_until
from tests.console.devices import BackgroundFleet, call, register_and_enroll, simulated

pytestmark = pytest.mark.django_db(transaction=True)


def wait_recording(server, token: str, device_id: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if call(server.url, token, "GET", f"/api/v1/devices/{device_id}")["recording"]:
            return
        time.sleep(0.2)
    raise AssertionError("the simulated camera never reported recording")


def test_an_operator_watches_a_simulated_camera_live(open_as, console_server, make_user, operator, officer):
    it_token, _ = token_issue(user=make_user("it"))
    op_token, _ = token_issue(user=operator)
    device_id, device_token = register_and_enroll(console_server.url, it_token, kind="bodycam", serial="LIVE-CAM-1")
    call(console_server.url, it_token, "POST", f"/api/v1/devices/{device_id}/assign", json={"officer": str(officer.pk)})
    camera = simulated(console_server.url, device_id, device_token, serial="LIVE-CAM-1")
    with BackgroundFleet(console_server.url, [camera]):
        call(
            console_server.url,
            op_token,
            "POST",
            f"/api/v1/devices/{device_id}/commands",
            json={"action": "start_recording", "reason": "Disturbance call"},
        )
        wait_recording(console_server, op_token, device_id)

        page = open_as(operator, "/fleet/")
        refused = []  # what the page's Content-Security-Policy blocked (hls.js's worker was)
        page.on(
            "console", lambda m: m.type == "error" and "Content Security Policy" in m.text and refused.append(m.text)
        )
        tile = page.locator("#live-tile")
        expect(tile.locator(f"select[name=device] option[value='{device_id}']")).to_have_count(1, timeout=15_000)
        tile.locator("select[name=device]").select_option(device_id)
        tile.get_by_role("button", name=re.compile("Watch live")).click()
        dialog = page.locator("dialog[open]")
        dialog.locator("textarea").fill("Officer called for backup at 5th and Main")
        dialog.get_by_role("button", name="Watch live").click()
        page.wait_for_url(re.compile(r"/live/[0-9a-f-]{36}/$"))

        expect(page.locator("#lv-reason")).to_have_text("Officer called for backup at 5th and Main")
        expect(page.locator("#lv-state")).to_have_text("● LIVE", timeout=20_000)
        # the video plays: its clock advances on its own
        wait_until(page, "document.querySelector('#lv-video').currentTime > 1", timeout=30_000)
        first = page.evaluate("document.querySelector('#lv-video').currentTime")
        wait_until(page, f"document.querySelector('#lv-video').currentTime > {first + 1.5}", timeout=15_000)
        assert page.evaluate("document.querySelector('#lv-video').videoWidth") == 640
        expect(page.locator("#lv-viewers")).to_contain_text(operator.full_name)
        expect(page.locator("#lv-latency")).to_have_text(re.compile(r"^\d+\.\d s behind live$"), timeout=10_000)
        latency = float(page.locator("#lv-latency").get_attribute("data-seconds"))
        assert 0 < latency < 10, latency
        screenshot(page, "live-view")

        page.locator("#lv-stop").click()
        expect(page.locator("#lv-state")).to_contain_text("ended")
        # Opened afresh once ended: what it showed waits paused, and the page says it is not live
        # (it played the old segments as if live, with no note).
        page.reload()
        expect(page.locator("#lv-state")).to_contain_text("ended")
        expect(page.locator("#lv-note")).to_contain_text("not live")
        page.wait_for_timeout(2000)
        assert page.evaluate("document.querySelector('#lv-video').paused")
        assert page.errors == []
        assert refused == []


def test_a_live_view_that_does_not_exist_is_the_not_found_page(open_as, console_server, operator):
    # A stale or mistyped link: the console's 404 page, which asks the API for nothing.
    requests = []
    page = open_as(operator, f"/live/{uuid.uuid4()}/")
    page.on("request", lambda r: "/api/v1/live/" in r.url and requests.append(r.url))
    expect(page.locator("h1")).to_have_text("Not found")
    page.wait_for_timeout(1500)  # the live page polls every second: this one must not
    assert requests == []
    assert page.errors == []
