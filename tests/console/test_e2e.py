"""The console end to end: headless Chromium against a real daphne process, with devices speaking
the real protocol. What an operator, a clerk and IT do, and what they see."""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from apps.accounts.services import token_issue
from apps.audit.models import AuditEvent
from apps.briefings.media import link_window_seconds
from tests.console.conftest import screenshot, wait_until
from tests.console.devices import BackgroundFleet, call, register_and_enroll, simulated, upload_clip
from tests.helpers import ws_connect

pytestmark = pytest.mark.django_db(transaction=True)
LIVE = 15_000  # ms: how long a live update may take to show before the test gives up


def jpeg(color=(200, 40, 40)) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360), (70, 80, 95))
    ImageDraw.Draw(image).rectangle((80, 120, 400, 300), fill=color)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def assign(server, it_token, device_id, officer, *, since_hours: float = 0):
    from datetime import timedelta

    from django.utils import timezone

    from apps.devices.models import Assignment

    call(server.url, it_token, "POST", f"/api/v1/devices/{device_id}/assign", json={"officer": str(officer.pk)})
    if since_hours:  # the shift started earlier: the assignment covers recordings made before now
        Assignment.objects.filter(device_id=device_id, ended_at__isnull=True).update(
            started_at=timezone.now() - timedelta(hours=since_hours)
        )


def test_login_page(browser, console_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=console_server.url)
    page = context.new_page()
    page.goto("/fleet/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/fleet/$"))
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong-password-1")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("Wrong username or password")
    screenshot(page, "login")
    context.close()


def test_operator_starts_a_camera_recording_and_sees_it_succeed(open_as, console_server, operator, officer, it_user):
    from apps.control.models import Command

    it_token, _ = token_issue(user=it_user)
    device_id, token = register_and_enroll(console_server.url, it_token, kind="bodycam", serial="E2E-CAM-1")
    register_and_enroll(console_server.url, it_token, kind="alpr", serial="E2E-ALPR-1")  # no place on the wall
    assign(console_server, it_token, device_id, officer)
    camera = simulated(console_server.url, device_id, token, serial="E2E-CAM-1", lat=40.7131, lon=-74.0052)
    call(
        console_server.url,
        token_issue(user=operator)[0],
        "POST",
        "/api/v1/incidents",
        json={"title": "Shots fired, Elm St", "location": {"lat": 40.7128, "lon": -74.006}, "radius_m": 300},
    )

    page = open_as(operator, "/fleet/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    row = page.locator('tr[data-serial="E2E-CAM-1"]')
    expect(row).to_contain_text("offline")
    expect(page.locator('tr[data-serial="E2E-ALPR-1"]')).to_have_count(0)  # a plate reader takes no command

    # A reason is required: confirming without one sends nothing.
    row.locator('button[data-action="start_recording"]').click()
    expect(page.locator("dialog")).to_contain_text("offline")  # the command would wait for the camera
    page.click("dialog [data-role=ok]")
    expect(page.locator("dialog [data-role=err]")).to_be_visible()
    page.click("dialog [data-role=cancel]")
    assert not Command.objects.filter(device_id=device_id).exists()

    # While the camera is offline a command waits, queued, and can be cancelled.
    row.locator('button[data-action="start_recording"]').click()
    page.fill("dialog textarea", "Wrong camera")
    page.click("dialog [data-role=ok]")
    expect(row.locator('[data-col="cmd"] .state.queued')).to_be_visible(timeout=LIVE)
    expect(row.locator('[data-col="cmd"] [data-until]')).to_contain_text("expires in")
    row.locator("[data-cancel]").click()
    expect(row.locator('[data-col="cmd"] .state.cancelled')).to_be_visible(timeout=LIVE)

    with BackgroundFleet(console_server.url, [camera]):
        expect(row.locator(".dot.on")).to_be_visible(timeout=LIVE)
        expect(row).to_contain_text(officer.full_name)
        expect(row.locator(".badge.idle")).to_be_visible()

        row.locator('button[data-action="start_recording"]').click()
        page.fill("dialog textarea", "Pursuit in progress")
        page.click("dialog [data-role=ok]")
        expect(row.locator('[data-col="cmd"] .state.succeeded')).to_be_visible(timeout=LIVE)
        expect(row.locator(".badge.rec")).to_be_visible(timeout=LIVE)
        entry = page.locator('.log-item[data-state="succeeded"]')
        expect(entry).to_contain_text("Pursuit in progress")
        expect(entry).to_contain_text("delivered")  # every step has its time
        expect(page.locator("#n-recording")).to_have_text("1")
        screenshot(page, "fleet")
        page.click("#text-size")  # the wall-screen size
        expect(page.locator("html")).to_have_class(re.compile(r"\bbig\b"))
        screenshot(page, "fleet-large")

        # A dropped console socket shows at once and comes back by itself.
        page.evaluate("window.rtccLive.ws.close()")
        expect(page.locator("#live")).to_have_attribute("data-state", re.compile("down|connecting"))
        expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=LIVE)

        assert Command.objects.get(device_id=device_id, reason="Wrong camera").state == "cancelled"  # never sent
        command = Command.objects.get(device_id=device_id, reason="Pursuit in progress")
        assert (command.state, command.reason, command.action) == (
            "succeeded",
            "Pursuit in progress",
            "start_recording",
        )
        assert command.requested_by_id == operator.pk

        # Opened afresh, the wall still shows each device's last command (it showed a dash).
        page.reload()
        expect(row.locator('[data-col="cmd"] .state.succeeded')).to_be_visible(timeout=LIVE)
        expect(row.locator('[data-col="cmd"]')).to_contain_text("Start recording")

        # The same camera on the map, at its reported position, shown as recording.
        page.goto("/map/")
        unit = page.locator(f'svg.map [data-unit="{device_id}"]')
        expect(unit).to_be_visible(timeout=LIVE)
        expect(unit).to_have_class(re.compile(r"\brecording\b"), timeout=LIVE)
        expect(page.locator("svg.map .scene circle.radius")).to_have_count(1)  # the briefing radius, to scale
        expect(page.locator("#scenes")).to_contain_text("Shots fired, Elm St")
        radius_px = float(page.locator("svg.map .scene circle.radius").get_attribute("r"))
        bar = page.locator("svg.map .scale line").first
        bar_px = float(bar.get_attribute("x2")) - float(bar.get_attribute("x1"))
        amount, unit_name = re.match(r"([\d.]+) (k?m)", page.locator("svg.map .scale text").text_content()).groups()
        bar_m = float(amount) * (1000 if unit_name == "km" else 1)
        assert radius_px / bar_px == pytest.approx(300 / bar_m, rel=0.01)  # metres to pixels, one scale
        screenshot(page, "map")
        assert not page.errors


def test_the_wall_names_the_operator_who_sent_a_command_and_shows_it_none(
    open_as, console_server, operator, make_user, it_user
):
    it_token, _ = token_issue(user=it_user)
    device_id, _ = register_and_enroll(console_server.url, it_token, kind="bodycam", serial="E2E-CAM-WHO")
    colleague = make_user("operator", full_name="Sam Kim")
    page = open_as(operator, "/fleet/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    call(
        console_server.url,
        token_issue(user=colleague)[0],
        "POST",
        f"/api/v1/devices/{device_id}/commands",
        json={"action": "start_recording", "reason": "Supervisor request"},
    )
    entry = page.locator(".log-item", has_text="Supervisor request")
    expect(entry).to_contain_text("by Sam Kim", timeout=LIVE)  # it said "by operator 3f2a91c0"
    # IT's wall is read-only: no command history to open (each one answered "Only operators may
    # see commands") and no command column.
    wall = open_as(it_user, "/fleet/")
    expect(wall.locator('tr[data-serial="E2E-CAM-WHO"]')).to_be_visible(timeout=LIVE)
    expect(wall.locator("[data-history]")).to_have_count(0)
    expect(wall.locator('[data-col="cmd"]')).to_have_count(0)
    expect(wall.locator("#fleet thead")).not_to_contain_text("Last command")
    assert not page.errors and not wall.errors


def test_operator_sends_a_briefing_and_sees_it_acknowledged(
    open_as, console_server, operator, officer, other_officer, it_user, tmp_path
):
    from apps.briefings.models import Delivery

    it_token, _ = token_issue(user=it_user)
    for who, serial in ((officer, "E2E-PH-1"), (other_officer, "E2E-PH-2")):
        device_id, token = register_and_enroll(console_server.url, it_token, kind="phone", serial=serial)
        assign(console_server, it_token, device_id, who)
        push_token = f"e2e-push-{serial}-{uuid.uuid4().hex}"
        call(console_server.url, token, "PUT", "/api/v1/device/push-token", json={"token": push_token})
    photo = tmp_path / "suspect.jpg"
    photo.write_bytes(jpeg())
    incident = call(
        console_server.url,
        token_issue(user=operator)[0],
        "POST",
        "/api/v1/incidents",
        json={
            "title": "Robbery at 5th and Main",
            "location": {"lat": 40.7128, "lon": -74.006},
            "radius_m": 400,
            "case_number": "2026-0042",
        },
    )

    page = open_as(operator, f"/briefings/new/?incident={incident['id']}")
    expect(page.locator("select[name=incident]")).to_have_value(incident["id"])
    page.check('input[name=audience][value="officers"]')
    expect(page.locator("#audience-count")).to_have_text("0 officers")
    page.check(f'#officer-list input[value="{officer.pk}"]')
    expect(page.locator("#audience-count")).to_have_text("1 officer", timeout=LIVE)
    expect(page.locator("#send")).to_have_text("Send to 1 officer")
    page.check('input[name=priority][value="urgent"]')
    page.fill("input[name=title]", "Armed robbery suspect on foot")
    page.fill("textarea[name=body]", "Took cash at gunpoint; last seen running north on Main St.")
    page.click("#add-suspect")
    page.fill("#suspects [data-f=description]", "Male, 30s, slim, beard")
    page.fill("#suspects [data-f=clothing]", "black hoodie, grey jeans")
    page.check("#suspects [data-f=armed]")
    page.set_input_files("#suspects [data-role=photo]", str(photo))
    expect(page.locator("#suspects [data-role=preview] img")).to_be_visible(timeout=LIVE)
    wait_until(page, "document.querySelector('#suspects [data-role=preview] img').naturalWidth > 0")
    page.click("#add-vehicle")
    page.fill("#vehicles [data-f=plate]", "KXT4821")
    page.fill("#vehicles [data-f=color]", "red")
    page.fill("#vehicles [data-f=make]", "Honda")
    screenshot(page, "briefing-compose")
    page.click("#send")
    page.wait_for_url(re.compile(r"/briefings/[0-9a-f-]{36}/$"))
    row = page.locator(f'#deliveries tr[data-officer="{officer.pk}"]')
    expect(row).to_be_visible(timeout=LIVE)
    expect(page.locator("#n-recipients")).to_have_text("1")
    assert page.locator("#deliveries tbody tr").count() == 1  # the other officer was not chosen

    # The officer opens the briefing on the phone page and acknowledges it.
    phone = open_as(officer, "/phone/", width=430, height=1100)
    card = phone.locator("[data-briefing]").first
    expect(card).to_contain_text("Armed robbery suspect on foot", timeout=LIVE)
    expect(card).to_contain_text("KXT4821")
    expect(card.locator("img")).to_be_visible()
    wait_until(phone, "document.querySelector('[data-briefing] img').naturalWidth > 0")  # the photo loads
    card.locator("[data-ack]").click()
    expect(phone.locator("[data-briefing] .state.acknowledged")).to_be_visible(timeout=LIVE)
    screenshot(phone, "phone")

    # The operator's board shows it without a reload.
    expect(row).to_have_attribute("data-state", "acknowledged", timeout=LIVE)
    expect(page.locator("#n-read")).to_have_text("1")
    expect(page.locator("#n-reached")).to_have_text("1")
    expect(page.locator("#n-unreached")).to_have_text("0")
    screenshot(page, "briefing-board")
    assert Delivery.objects.get(officer=officer).state == "acknowledged"

    page.goto("/incidents/")
    expect(page.locator("#incidents")).to_contain_text("Robbery at 5th and Main")
    expect(page.locator("#briefings")).to_contain_text("Armed robbery suspect on foot")
    screenshot(page, "incidents")
    assert not page.errors and not phone.errors


def test_the_phone_page_draws_again_only_the_briefings_that_changed(open_as, console_server, operator, officer):
    """The page polls every 5 s. A thumbnail link signed with each second made every answer new,
    and any change drew every card again: every photo fetched again, a button being pressed gone."""
    operator_token = token_issue(user=operator)[0]
    photo = call(
        console_server.url, operator_token, "POST", "/api/v1/media", files={"file": ("s.jpg", jpeg(), "image/jpeg")}
    )

    def brief(title: str) -> None:
        suspect = {"description": "Male, 30s", "photo": photo["id"]}
        body = {
            "priority": "urgent",
            "title": title,
            "suspects": [suspect],
            "audience": {"officers": [str(officer.pk)]},
        }
        call(console_server.url, operator_token, "POST", "/api/v1/briefings", json=body)

    brief("First suspect")
    phone = open_as(officer, "/phone/", width=430, height=1100)
    expect(phone.locator("[data-briefing]")).to_have_count(1, timeout=LIVE)
    wait_until(phone, "document.querySelector('[data-briefing] img').naturalWidth > 0")
    # An answer's thumbnail link changes at the edge of its window (a minute), and the card rightly
    # with it: the two polls below fall inside one window, after the poll that crossed the edge.
    window = link_window_seconds()
    if time.time() % window > window - 20:
        time.sleep(window - time.time() % window + 1)
        crossed = phone.locator("#refreshed").text_content()
        wait_until(phone, f"document.querySelector('#refreshed').textContent !== {json.dumps(crossed)}", 12_000)
    phone.evaluate("document.querySelector('[data-briefing]').dataset.kept = 'yes'")
    refreshed = phone.locator("#refreshed").text_content()
    # the next poll (its time shows before it draws anything, in the same task)
    wait_until(phone, f"document.querySelector('#refreshed').textContent !== {json.dumps(refreshed)}", 12_000)
    expect(phone.locator("[data-briefing][data-kept=yes]")).to_have_count(1)  # the same answer: nothing drawn
    brief("Second suspect")
    expect(phone.locator("[data-briefing]")).to_have_count(2, timeout=LIVE)
    expect(phone.locator("[data-briefing]").first).to_contain_text("Second suspect")
    expect(phone.locator("[data-briefing][data-kept=yes]")).to_contain_text("First suspect")  # still the same card
    assert not phone.errors


def test_new_briefing_page_opens_without_an_error(open_as, operator, officer):
    page = open_as(operator, "/briefings/new/")
    expect(page.locator("#audience-note")).to_contain_text("latitude and longitude", timeout=LIVE)
    page.wait_for_timeout(800)  # the audience preview is debounced: let it run
    assert page.locator(".notice.error, .field-error").count() == 0
    expect(page.locator("#audience-count")).to_have_text("\u2013")
    assert not page.errors


def test_a_refused_vehicle_field_is_shown_under_that_vehicles_input(open_as, operator, officer):
    """The API names an entry's field as "vehicles.1.year": the page marks that input of the
    second vehicle, not the first, and sends nothing."""
    from apps.briefings.models import Briefing

    page = open_as(operator, "/briefings/new/")
    page.check('input[name=audience][value="officers"]')
    page.check(f'#officer-list input[value="{officer.pk}"]')
    expect(page.locator("#audience-count")).to_have_text("1 officer", timeout=LIVE)
    page.fill("input[name=title]", "Stolen vehicles seen together")
    page.click("#add-vehicle")
    page.click("#add-vehicle")
    first, second = page.locator("#vehicles .entry").nth(0), page.locator("#vehicles .entry").nth(1)
    first.locator("[data-f=plate]").fill("KXT4821")
    first.locator("[data-f=year]").fill("2019")
    second.locator("[data-f=plate]").fill("7ABC123")
    second.locator("[data-f=year]").fill("1850")
    page.click("#send")
    expect(second.locator(".field-error")).to_be_visible(timeout=LIVE)
    expect(second.locator("label", has=page.locator("[data-f=year]")).locator(".field-error")).to_have_count(1)
    expect(first.locator(".field-error")).to_have_count(0)
    expect(page.locator("#notices .notice.error")).to_contain_text("Briefing not sent")
    assert Briefing.objects.count() == 0
    assert not page.errors


def test_the_board_says_plainly_who_was_not_reached(open_as, console_server, operator, officer, other_officer):
    """Two officers without a phone: both unreached, nobody counted as reached, and the
    reason in words rather than a code."""
    it_token = token_issue(user=operator)[0]
    briefing = call(
        console_server.url,
        it_token,
        "POST",
        "/api/v1/briefings",
        json={
            "priority": "routine",
            "title": "Lost child near the park",
            "audience": {"officers": [str(officer.pk), str(other_officer.pk)]},
        },
    )
    page = open_as(operator, f"/briefings/{briefing['id']}/")
    expect(page.locator("#deliveries tbody tr")).to_have_count(2, timeout=LIVE)
    expect(page.locator("#n-recipients")).to_have_text("2")
    expect(page.locator("#n-reached")).to_have_text("0")
    expect(page.locator("#n-unreached")).to_have_text("2")
    expect(page.locator("#deliveries")).to_contain_text("No phone is assigned to this officer.")
    expect(page.locator("#deliveries")).not_to_contain_text("no_phone")
    assert not page.errors


def test_clerk_finds_a_clip_and_retrieves_it(open_as, console_server, clerk, officer, it_user, tmp_path):
    from apps.footage.models import Clip

    it_token, _ = token_issue(user=it_user)
    device_id, token = register_and_enroll(console_server.url, it_token, kind="bodycam", serial="E2E-CAM-CLIP")
    assign(console_server, it_token, device_id, officer, since_hours=2)
    clip_id, sha256 = upload_clip(console_server.url, token, tmp_path)

    page = open_as(clerk, "/footage/")
    page.click("summary")  # categories: a clerk adds one kept indefinitely
    page.fill("#category-form input[name=slug]", "homicide")
    page.fill("#category-form input[name=name]", "Homicide")
    page.click("#category-form button")
    expect(page.locator("#category-list")).to_contain_text("Homicide", timeout=LIVE)
    expect(page.locator("#category-list")).to_contain_text("kept indefinitely")
    page.select_option("#search select[name=officer]", str(officer.pk))
    page.select_option("#search select[name=state]", "available")
    page.click("#search button[type=submit]")
    row = page.locator(f'tr[data-clip="{clip_id}"]')
    expect(row).to_be_visible(timeout=LIVE)
    expect(page.locator("#clips tbody tr")).to_have_count(1)
    screenshot(page, "footage-search")

    row.locator("a").click()
    page.wait_for_url(f"**/footage/{clip_id}/")
    expect(page.locator("#c-sha")).to_have_text(sha256)
    page.click("#access-form button")  # no reason: refused on the page, nothing requested
    expect(page.locator("#access-form .field-error")).to_be_visible()
    page.fill("#access-form textarea", "Discovery request, case 2026-0042")
    page.click("#access-form button")
    expect(page.locator("#player")).to_be_visible(timeout=LIVE)
    link = page.locator("#download").get_attribute("href")
    assert page.locator("#video").get_attribute("src") == link
    # The player reads nothing until it is played: a preload wrote a download into the chain of
    # custody before the clerk had watched or downloaded anything.
    expect(page.locator("#custody")).to_contain_text("clip.access", timeout=LIVE)
    page.wait_for_timeout(1500)
    assert not AuditEvent.objects.filter(action="clip.download", object_id=str(clip_id)).exists()
    body = page.request.get(link).body()
    assert hashlib.sha256(body).hexdigest() == sha256  # the bytes are the camera's, unaltered
    expect(page.locator("#custody")).to_contain_text("clip.access", timeout=LIVE)
    expect(page.locator("#custody")).to_contain_text("Discovery request, case 2026-0042")

    page.fill("#edit-form input[name=case_number]", "2026-0042")
    page.select_option("#edit-form select[name=category]", "homicide")
    page.click("#edit-form button[type=submit]")
    expect(page.locator("#c-details")).to_contain_text("2026-0042", timeout=LIVE)
    page.click("#hold-on")
    page.fill("dialog textarea", "Litigation hold")
    page.click("dialog [data-role=ok]")
    expect(page.locator("#c-state")).to_contain_text("LEGAL HOLD", timeout=LIVE)
    expect(page.locator("#chain")).to_contain_text("intact")
    screenshot(page, "clip")

    clip = Clip.objects.get(pk=clip_id)
    assert clip.legal_hold and clip.case_number == "2026-0042" and clip.category.slug == "homicide"

    # The case's manifest for the prosecutor: every clip's SHA-256, to check with sha256sum.
    page.goto("/footage/?case_number=2026-0042&from=2026-01-01T00:00:00Z")  # a shared link: its filters kept
    expect(page.locator(f'tr[data-clip="{clip_id}"]')).to_be_visible(timeout=LIVE)
    assert page.locator("#search input[name=from]").input_value() != ""  # in the browser's zone
    assert "from=" in page.url  # searched with it, not dropped
    page.click('#manifest [data-format="sha256"]')
    page.fill("dialog textarea", "Discovery request")
    with page.expect_download() as download:
        page.click("dialog [data-role=ok]")
    assert sha256 in download.value.path().read_text()
    assert not page.errors


def test_a_clip_the_center_started_names_who_started_it_and_why(
    open_as, console_server, clerk, operator, officer, it_user, tmp_path
):
    it_token, _ = token_issue(user=it_user)
    device_id, token = register_and_enroll(console_server.url, it_token, kind="bodycam", serial="E2E-CAM-REMOTE")
    assign(console_server, it_token, device_id, officer, since_hours=2)
    command = call(
        console_server.url,
        token_issue(user=operator)[0],
        "POST",
        f"/api/v1/devices/{device_id}/commands",
        json={"action": "start_recording", "reason": "Robbery in progress, <b>Main</b> & 5th"},
    )
    started, _ = upload_clip(console_server.url, token, tmp_path, command_id=command["id"])
    unknown = str(uuid.uuid4())  # a camera naming a command never sent to it: the clip is kept, the page says so
    stray, _ = upload_clip(console_server.url, token, tmp_path, command_id=unknown)

    page = open_as(clerk, f"/footage/{started}/")
    details = page.locator("#c-details")
    expect(details).to_contain_text(operator.full_name, timeout=LIVE)
    expect(details).to_contain_text("Robbery in progress, <b>Main</b> & 5th")  # as typed, never markup
    expect(details).to_contain_text("remote start")
    screenshot(page, "clip-remote-start")
    page.goto(f"/footage/{stray}/")
    expect(page.locator("#c-details")).to_contain_text(f"the camera named command {unknown}", timeout=LIVE)
    expect(page.locator("#c-details")).not_to_contain_text(operator.full_name)
    assert not page.errors


def test_it_registers_a_plate_reader_where_it_stands(open_as, console_server, it_user):
    from apps.devices.models import Device

    page = open_as(it_user, "/devices/")
    lat, lon = "#register-form input[name='location.lat']", "#register-form input[name='location.lon']"
    expect(page.locator(lat)).to_be_hidden()  # a camera's form asks no place
    page.select_option("#register-form select[name=kind]", "alpr")
    page.fill("#register-form input[name=serial]", "E2E-ALPR-1")
    page.fill(lat, "40.7128")
    page.click("#register-form button[type=submit]")  # half a place: the API's word, under the field
    expect(page.locator("#register-form .field-error")).to_have_count(1, timeout=LIVE)
    expect(page.locator(lon).locator("xpath=..")).to_contain_text("may not be null")
    assert not Device.objects.filter(serial="E2E-ALPR-1").exists()
    page.fill("#register-form input[name=label]", "Main & 5th, northbound")
    page.fill(lon, "-74.006")
    page.click("#register-form button[type=submit]")
    expect(page.locator("#enroll-qr svg")).to_be_visible(timeout=LIVE)
    expect(page.locator('tr[data-serial="E2E-ALPR-1"]')).to_contain_text("alpr")
    reader = Device.objects.get(serial="E2E-ALPR-1")
    assert (reader.kind, reader.lat, reader.lon) == ("alpr", 40.7128, -74.006)

    # A place out of range left in the hidden fields does not stop a camera's registration.
    page.fill(lat, "95")
    page.select_option("#register-form select[name=kind]", "bodycam")
    page.fill("#register-form input[name=serial]", "E2E-CAM-AFTER-ALPR")
    page.click("#register-form button[type=submit]")
    expect(page.locator('tr[data-serial="E2E-CAM-AFTER-ALPR"]')).to_be_visible(timeout=LIVE)
    camera = Device.objects.get(serial="E2E-CAM-AFTER-ALPR")
    assert (camera.kind, camera.lat) == ("bodycam", None)
    assert page.errors == []


def test_it_registers_and_enrolls_a_device(open_as, console_server, it_user, officer):
    from apps.devices.models import Device

    page = open_as(it_user, "/devices/")
    page.select_option("#register-form select[name=kind]", "bodycam")
    page.fill("#register-form input[name=serial]", "E2E-IT-CAM-7")
    page.fill("#register-form input[name=label]", "Cam 7")
    page.click("#register-form button[type=submit]")
    expect(page.locator("#enroll-qr svg")).to_be_visible(timeout=LIVE)
    code = page.locator("#enroll-code").inner_text().strip()
    assert code
    row = page.locator('tr[data-serial="E2E-IT-CAM-7"]')
    expect(row).to_contain_text("not enrolled")
    screenshot(page, "devices-enroll")

    # The camera enrolls with the serial and the code from the screen, then connects.
    enrolled = httpx.post(
        f"{console_server.url}/api/v1/enroll", json={"serial": "E2E-IT-CAM-7", "code": code}, timeout=10
    )
    assert enrolled.status_code == 200, enrolled.text
    with ws_connect(f"{console_server.ws_url}/ws/device/", token=enrolled.json()["token"]) as ws:
        ws.send(json.dumps({"type": "status", "recording": False, "battery_pct": 88, "storage_free_mb": 30_000}))
        expect(row.locator(".dot.on")).to_be_visible(timeout=LIVE)

        row.locator('[data-act="assign"]').click()
        page.select_option("dialog select", str(officer.pk))
        page.click("dialog button[type=submit]")
        expect(row).to_contain_text(officer.full_name, timeout=LIVE)
        screenshot(page, "devices")

    device = Device.objects.get(serial="E2E-IT-CAM-7")
    assert device.enrolled_at is not None and device.officer_id == officer.pk

    # Users and roles.
    page.goto("/users/")
    page.fill("#user-form input[name=username]", "newclerk")
    page.select_option("#user-form select[name=role]", "clerk")
    page.fill("#user-form input[name=full_name]", "Robin Clerk")
    page.fill("#user-form input[name=password]", "a-long-enough-password")
    page.click("#user-form button[type=submit]")
    expect(page.locator("#users")).to_contain_text("newclerk", timeout=LIVE)
    screenshot(page, "users")
    assert not page.errors

    response = page.goto("/footage/")  # evidence is not IT's business
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    screenshot(page, "forbidden")


MARKUP_NAME = '<img src=x onerror="window.pwned=1"><b>Eve</b> & "Co"'


def test_names_with_markup_show_as_typed_and_never_run(open_as, console_server, it_user, make_user):
    """Pages build their HTML with escaping by default: a name holding markup reads as typed."""
    make_user("officer", username="eve", full_name=MARKUP_NAME, badge_number="<i>7</i>")
    page = open_as(it_user, "/users/")
    row = page.locator("#users tr", has_text="eve")
    expect(row).to_contain_text(MARKUP_NAME, timeout=LIVE)
    expect(row).to_contain_text("<i>7</i>")
    assert row.locator("img, b, i").count() == 0
    assert page.evaluate("window.pwned") is None

    # The helper itself: every value escaped, trusted markup only when built by html`` or safe().
    built = page.evaluate(
        """async () => {
            const { html, safe } = await import("/static/console/js/ui.js");
            const name = '<b onclick="x()">Eve</b>';
            return String(html`<td title="${name}">${name}${safe("<br>")}${[html`<i>${"a&b"}</i>`]}${null}${0}</td>`);
        }"""
    )
    assert built == (
        '<td title="&lt;b onclick=&quot;x()&quot;&gt;Eve&lt;/b&gt;">'
        "&lt;b onclick=&quot;x()&quot;&gt;Eve&lt;/b&gt;<br><i>a&amp;b</i>0</td>"
    )
    assert not page.errors


def test_operator_confirms_a_hit_from_the_queue_and_briefs_it(open_as, console_server, operator, officer, it_user):
    """A reader posts a read of a stolen car; the hit appears in the operator's queue with the
    read's image beside the entry; the operator confirms it with the keyboard and briefs it."""
    import base64

    from django.utils import timezone

    from apps.alpr.models import Hit
    from apps.briefings.models import Briefing

    op_token, _ = token_issue(user=operator)
    it_token, _ = token_issue(user=it_user)
    hotlist = call(console_server.url, op_token, "POST", "/api/v1/hotlists", json={"name": "NCIC", "source": "ncic"})
    call(
        console_server.url,
        op_token,
        "POST",
        f"/api/v1/hotlists/{hotlist['id']}/entries",
        json={"plate": "KXT4821", "plate_state": "CA", "reason": "Stolen vehicle", "case_number": "2026-0077"},
    )
    from apps.devices.models import Device

    Device.objects.create(  # the officer's phone, 25 m from the camera
        kind="phone",
        serial="E2E-ALPR-PH",
        officer=officer,
        push_token="e2e-alpr-push",
        push_token_hash=hashlib.sha256(b"e2e-alpr-push").hexdigest(),
        lat=40.7130,
        lon=-74.0061,
        location_at=timezone.now(),
    )
    page = open_as(operator, "/alpr/hits/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=LIVE)
    expect(page.locator("#hit-list")).to_contain_text("No new hits")

    _, reader = register_and_enroll(
        console_server.url, it_token, kind="alpr", serial="E2E-POLE-1", location={"lat": 40.7128, "lon": -74.006}
    )
    read = {
        "read_id": "E2E-1",
        "plate": "KXT 4821",
        "plate_state": "CA",
        "read_at": timezone.now().isoformat(),
        "image": base64.b64encode(jpeg()).decode(),
    }
    posted = call(console_server.url, reader, "POST", "/api/v1/plate-reads", json={"reads": [read]})
    [hit_id] = posted["hits"]

    # the hit arrives live, selected, with the image and the entry side by side
    detail = page.locator(f'[data-detail="{hit_id}"]')
    expect(detail).to_be_visible(timeout=LIVE)
    expect(detail.locator("[data-role=read-plate]")).to_have_text("KXT4821")
    expect(detail.locator("[data-role=entry-plate]")).to_have_text("KXT4821")
    wait_until(page, "document.querySelector('[data-role=image]').naturalWidth > 0")
    screenshot(page, "alpr-hit-queue")

    page.keyboard.press("c")  # confirm
    expect(detail.locator("[data-role=state]")).to_have_text("confirmed", timeout=LIVE)
    page.keyboard.press("b")  # brief officers near the read
    expect(detail.locator("[data-role=briefing-link]")).to_be_visible(timeout=LIVE)
    expect(detail.locator("[data-act=brief]")).to_have_count(0)  # briefed once: no second push
    expect(page.locator("#notices .notice.ok")).to_contain_text("Briefing sent to 1 officer.")
    page.keyboard.press("b")
    hit = Hit.objects.get(pk=hit_id)
    assert hit.state == "confirmed" and hit.reviewed_by == operator and hit.briefing_id
    briefing = Briefing.objects.get(pk=hit.briefing_id)
    assert briefing.recipients == 1 and briefing.vehicles[0]["plate"] == "KXT4821"
    assert Briefing.objects.count() == 1

    # A read far from every officer: the page says nobody would receive the brief before it sends
    # (it sent, and said "sent to 0 officers" in green).
    call(
        console_server.url,
        op_token,
        "POST",
        f"/api/v1/hotlists/{hotlist['id']}/entries",
        json={"plate": "FAR1234", "plate_state": "CA", "reason": "Stolen vehicle", "case_number": "2026-0078"},
    )
    _, far_reader = register_and_enroll(
        console_server.url, it_token, kind="alpr", serial="E2E-POLE-FAR", location={"lat": 40.9, "lon": -74.3}
    )
    far_read = {**read, "read_id": "E2E-FAR", "plate": "FAR 1234", "read_at": timezone.now().isoformat()}
    [far_hit] = call(console_server.url, far_reader, "POST", "/api/v1/plate-reads", json={"reads": [far_read]})["hits"]
    page.locator(f'[data-hit="{far_hit}"]').click()
    far_detail = page.locator(f'[data-detail="{far_hit}"]')
    expect(far_detail).to_be_visible(timeout=LIVE)
    page.keyboard.press("c")
    expect(far_detail.locator("[data-role=state]")).to_have_text("confirmed", timeout=LIVE)
    page.keyboard.press("b")
    expect(page.locator("dialog[open]")).to_contain_text("Nobody would receive this", timeout=LIVE)
    expect(page.locator("dialog[open]")).to_contain_text("within 2000 m of the read")  # the server's radius
    page.click("dialog [data-role=cancel]")
    expect(far_detail.locator("[data-act=brief]")).to_be_visible()
    assert Briefing.objects.count() == 1  # nothing sent
    page.keyboard.press("b")
    page.click("dialog [data-role=ok]")  # send anyway
    expect(far_detail.locator("[data-role=briefing-link]")).to_be_visible(timeout=LIVE)
    expect(page.locator("#notices .notice.error")).to_contain_text("reached no officer")
    assert Briefing.objects.count() == 2
    assert not page.errors


def test_after_a_review_j_goes_on_to_the_hit_that_followed(open_as, console_server, operator, it_user):
    """Working down the queue: the reviewed hit leaves it, and J selects the hit that stood after
    it (it went back to the top)."""
    import base64

    from django.utils import timezone

    op_token, _ = token_issue(user=operator)
    it_token, _ = token_issue(user=it_user)
    hotlist = call(console_server.url, op_token, "POST", "/api/v1/hotlists", json={"name": "NCIC", "source": "ncic"})
    plates = ["AAA1001", "BBB1002", "CCC1003", "DDD1004"]
    for plate in plates:
        call(
            console_server.url,
            op_token,
            "POST",
            f"/api/v1/hotlists/{hotlist['id']}/entries",
            json={"plate": plate, "plate_state": "CA", "reason": "Stolen vehicle"},
        )
    created = call(
        console_server.url, it_token, "POST", "/api/v1/devices", json={"kind": "alpr", "serial": "E2E-POLE-J"}
    )
    reader = httpx.post(
        f"{console_server.url}/api/v1/enroll", json={"serial": "E2E-POLE-J", "code": created["enrollment_code"]}
    ).json()["token"]
    image = base64.b64encode(jpeg()).decode()
    reads = [
        {
            "read_id": f"J-{n}",
            "plate": plate,
            "plate_state": "CA",
            "read_at": timezone.now().isoformat(),
            "image": image,
        }
        for n, plate in enumerate(plates)
    ]
    call(console_server.url, reader, "POST", "/api/v1/plate-reads", json={"reads": reads})

    page = open_as(operator, "/alpr/hits/")
    items = page.locator("#hit-list [data-hit]")
    expect(items).to_have_count(4, timeout=LIVE)
    order = [items.nth(n).get_attribute("data-hit") for n in range(4)]
    items.nth(1).click()
    page.keyboard.press("r")  # reject the second: it leaves the queue of new hits
    expect(page.locator(f'[data-detail="{order[1]}"] [data-role=state]')).to_have_text("rejected", timeout=LIVE)
    expect(items).to_have_count(3)
    page.keyboard.press("j")
    expect(page.locator(f'[data-detail="{order[2]}"]')).to_be_visible()
    page.keyboard.press("c")  # confirm the third, then K: the first
    expect(page.locator(f'[data-detail="{order[2]}"] [data-role=state]')).to_have_text("confirmed", timeout=LIVE)
    page.keyboard.press("k")
    expect(page.locator(f'[data-detail="{order[0]}"]')).to_be_visible()
    assert not page.errors


def test_a_hotlist_import_shows_each_rejected_line_and_a_blank_priority_keeps_the_default(
    open_as, console_server, operator, tmp_path
):
    page = open_as(operator, "/alpr/hotlists/")
    form = page.locator("#list-form")
    form.locator("input[name=name]").fill("Stolen vehicles")
    form.locator("select[name=source]").select_option("state")
    form.locator("input[name=priority]").fill("")  # blank: the list's default, never 0
    form.locator("button").click()
    expect(page.locator("#lists")).to_contain_text("priority 50", timeout=LIVE)

    csv = tmp_path / "list.csv"
    csv.write_text(
        "plate,plate_state,reason,case_number,expires_at\nGOOD001,CA,Stolen,,\n--,CA,Stolen,,\nBAD0002,California,x,,\n"
    )
    detail = page.locator("#list-detail")
    detail.locator("input[name=file]").set_input_files(str(csv))
    detail.locator("#import-form button").click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("1 imported, 2 rejected", timeout=LIVE)
    expect(result.locator("[data-role=rejected] li")).to_have_count(2)
    expect(result).to_contain_text("line 3")
    expect(detail.locator("table")).to_contain_text("GOOD001")

    # a replace whose every line is bad: this file's lines are shown, not the last file's result
    bad = tmp_path / "bad.csv"
    bad.write_text("plate,plate_state,reason,case_number,expires_at\n--,CA,Stolen,,\n")
    detail.locator("input[name=file]").set_input_files(str(bad))
    detail.locator("select[name=mode]").select_option("replace")
    detail.locator("#import-form button").click()
    expect(result.locator("[data-role=import-error]")).to_contain_text("the list is unchanged", timeout=LIVE)
    expect(result).not_to_contain_text("1 imported")
    expect(result.locator("[data-role=rejected] li")).to_contain_text("line 2: plate:")
    expect(detail.locator("table")).to_contain_text("GOOD001")

    # Remove asks first: one click keeps the entry, a second removes it
    from apps.alpr.models import Entry

    remove = detail.locator("[data-remove]").first
    remove.click()
    expect(remove).to_have_text("Confirm remove")
    expect(detail.locator("table")).to_contain_text("GOOD001")
    assert Entry.objects.filter(plate_normalized="GOOD001", removed_at__isnull=True).exists()
    remove.click()
    expect(detail.locator("table")).not_to_contain_text("GOOD001", timeout=LIVE)
    assert not Entry.objects.filter(plate_normalized="GOOD001", removed_at__isnull=True).exists()
    assert not page.errors
