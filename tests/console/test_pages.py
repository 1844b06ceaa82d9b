"""Console pages: each role reaches its own pages only, anonymous people go to the login page,
and nothing in a page points at another host."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import ROLES
from tests.helpers import console_login

STATIC = Path(__file__).resolve().parents[2] / "static"
# The objects the detail pages name, made by `page_objects` with these ids.
LIVE_ID, BRIEFING_ID, CLIP_ID = (str(uuid.uuid4()) for _ in range(3))
DETAIL_PAGES = {"/live/{}/": "operator", "/briefings/{}/": "operator", "/footage/{}/": "clerk"}

# url -> roles that may open it
PAGES = {
    "/phone/": {"officer"},
    "/fleet/": {"operator", "it"},
    f"/live/{LIVE_ID}/": {"operator"},
    "/map/": {"operator"},
    "/incidents/": {"operator"},
    "/briefings/new/": {"operator"},
    f"/briefings/{BRIEFING_ID}/": {"operator"},
    "/footage/": {"clerk"},
    f"/footage/{CLIP_ID}/": {"clerk"},
    "/devices/": {"it"},
    "/users/": {"it"},
    "/alpr/hits/": {"operator"},
    "/alpr/hotlists/": {"operator", "it"},
    "/alpr/plates/": {"operator", "clerk"},
}
LANDING = {"officer": "/phone/", "operator": "/fleet/", "clerk": "/footage/", "it": "/devices/"}
NAV = {
    "officer": {"/phone/"},
    "operator": {"/fleet/", "/map/", "/incidents/", "/alpr/hits/", "/alpr/hotlists/", "/alpr/plates/"},
    "clerk": {"/footage/", "/alpr/plates/"},
    "it": {"/fleet/", "/devices/", "/users/", "/alpr/hotlists/"},
}
NAV_LINKS = {
    "/phone/",
    "/fleet/",
    "/map/",
    "/incidents/",
    "/footage/",
    "/devices/",
    "/users/",
    "/alpr/hits/",
    "/alpr/hotlists/",
    "/alpr/plates/",
}

# The only absolute URL allowed: the SVG namespace name, which is an identifier, never fetched.
URL_RE = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)
ALLOWED_URLS = {
    "http://www.w3.org",
    # hls.js (static/console/vendor): an ID3 metadata scheme name and a user-agent regex, not loads
    "https://aomedia.org",
    "//i.test",
}


@pytest.fixture
def page_objects(personas):
    """A live session, a briefing and a clip with the detail pages' ids."""
    from apps.briefings.models import Briefing
    from apps.devices.models import Device
    from apps.footage.models import Category, Clip
    from apps.live.models import LiveSession

    now = timezone.now()
    camera = Device.objects.create(kind="bodycam", serial="PAGES-1")
    LiveSession.objects.create(
        id=LIVE_ID,
        device=camera,
        reason="Pages test",
        requested_by=personas["operator"],
        expires_at=now + timedelta(minutes=5),
        base_url="http://testserver",
    )
    Briefing.objects.create(id=BRIEFING_ID, priority="routine", title="Pages test")
    Clip.objects.create(
        id=CLIP_ID,
        device=camera,
        recording_id="rec-pages",
        started_at=now - timedelta(minutes=1),
        ended_at=now,
        duration_s=60.0,
        size_bytes=1,
        sha256="0" * 64,
        content_type="video/mp4",
        trigger="manual",
        category=Category.objects.order_by("slug").first(),
        storage_key="clips/pages-test",
        part_size=1,
        part_count=1,
    )


def session_for(user) -> Client:
    client = Client()
    console_login(client, user)
    return client


def external_urls(text: str) -> set[str]:
    return {m for m in URL_RE.findall(text) if m not in ALLOWED_URLS and not m.startswith("//127.0.0.1")}


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_each_page_opens_for_its_roles_only(personas, page_objects, role, url):
    response = session_for(personas[role]).get(url)
    if role in PAGES[url]:
        assert response.status_code == 200, response.content[:300]
        assert b"Signed in as" in response.content
        assert "csrftoken" in response.cookies  # the page's scripts send it back on writes
    else:
        assert response.status_code == 403
        assert b"Not allowed" in response.content


@pytest.mark.parametrize("page", DETAIL_PAGES)
def test_a_detail_page_for_nothing_is_a_404(personas, page_objects, page):
    # A mistyped or stale link: the console's 404 page, not an empty page that loads nothing.
    response = session_for(personas[DETAIL_PAGES[page]]).get(page.format(uuid.uuid4()))
    assert response.status_code == 404
    assert b"Signed in as" not in response.content


@pytest.mark.parametrize("url", [*PAGES, "/"])
def test_anonymous_is_sent_to_login(db, url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("role", ROLES)
def test_home_lands_on_the_roles_page(personas, role):
    response = session_for(personas[role]).get("/")
    assert response.status_code == 302
    assert response["Location"] == LANDING[role]


def test_superuser_acts_as_it(superuser):
    client = session_for(superuser)
    assert client.get("/devices/").status_code == 200
    assert client.get("/footage/").status_code == 403
    assert client.get("/")["Location"] == "/devices/"


@pytest.mark.parametrize("role", ROLES)
def test_navigation_shows_only_the_roles_pages(personas, role):
    html = session_for(personas[role]).get(LANDING[role]).content.decode()
    nav = html.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    shown = {link for link in NAV_LINKS if f'href="{link}"' in nav}
    assert shown == NAV[role]


def test_fleet_is_read_only_for_it(personas):
    operator_html = session_for(personas["operator"]).get("/fleet/").content.decode()
    it_html = session_for(personas["it"]).get("/fleet/").content.decode()
    assert 'id="can-command" type="application/json">true<' in operator_html
    assert 'id="can-command" type="application/json">false<' in it_html
    assert "Read-only" in it_html


def test_the_operators_wall_embeds_each_devices_last_command_and_who_sent_it(personas):
    import json

    from apps.control import services as commands
    from tests.control.conftest import create_device

    operator = personas["operator"]
    first = create_device(label="Cam A").device
    create_device(label="Cam B")  # never commanded
    commands.command_create(device=first, requested_by=operator, action="start_recording", reason="older")
    newest, _ = commands.command_create(device=first, requested_by=operator, action="stop_recording", reason="newer")

    def embedded(html: str, name: str):
        return json.loads(html.split(f'id="{name}" type="application/json">', 1)[1].split("</script>", 1)[0])

    page = session_for(operator).get("/fleet/").content.decode()
    # the newest of the first camera's two; the second camera, never commanded, has none
    assert [(c["id"], c["reason"]) for c in embedded(page, "last-commands")] == [(str(newest.pk), "newer")]
    assert operator.full_name in [o["full_name"] for o in embedded(page, "operators-data")]
    # IT's read-only wall: no commands, no operators (the API refuses IT commands).
    it_page = session_for(personas["it"]).get("/fleet/").content.decode()
    assert embedded(it_page, "last-commands") == [] and embedded(it_page, "operators-data") == []
    assert "Last command" not in it_page


def test_pages_embed_officer_names_not_other_people(personas, other_officer):
    html = session_for(personas["operator"]).get("/incidents/").content.decode()
    assert other_officer.full_name in html
    assert personas["clerk"].username not in html.split('id="officers-data"', 1)[1].split("</script>", 1)[0]


def test_login_then_logout(officer):
    client = Client()
    page = client.get("/login/?next=/phone/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post("/login/", {"username": "officer", "password": "correct-horse-battery", "next": "/phone/"})
    assert response.status_code == 302 and response["Location"] == "/phone/"
    assert client.get("/phone/").status_code == 200
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/phone/").status_code == 302


def test_wrong_password_stays_on_login_with_a_message(officer):
    response = Client().post("/login/", {"username": "officer", "password": "wrong-password-123"})
    assert response.status_code == 401
    assert b"Wrong username or password" in response.content


# QR codes for enrollment -----------------------------------------------------------------------


def test_qr_is_an_svg_for_it(personas):
    response = session_for(personas["it"]).post("/console/qr", {"data": '{"serial":"BWC-1","code":"ABCD"}'})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "no-store"
    assert b"<svg" in response.content
    assert not external_urls(response.content.decode())


@pytest.mark.parametrize("role", ["officer", "operator", "clerk"])
def test_qr_is_refused_to_other_roles(personas, role):
    assert session_for(personas[role]).post("/console/qr", {"data": "x"}).status_code == 403


def test_qr_refuses_anonymous_get_and_bad_data(personas):
    assert Client().post("/console/qr", {"data": "x"}).status_code == 302
    it = session_for(personas["it"])
    assert it.get("/console/qr?data=x").status_code == 405  # codes stay out of URLs and logs
    assert it.post("/console/qr", {"data": ""}).status_code == 400
    assert it.post("/console/qr", {"data": "x" * 1025}).status_code == 400


def test_qr_needs_the_csrf_token(personas):
    client = Client(enforce_csrf_checks=True)
    console_login(client, personas["it"])
    assert client.post("/console/qr", {"data": "x"}).status_code == 403
    client.get("/devices/")
    token = client.cookies["csrftoken"].value
    assert client.post("/console/qr", {"data": "x"}, HTTP_X_CSRFTOKEN=token).status_code == 200


# Nothing from the internet ---------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_pages_load_nothing_from_other_hosts(personas, page_objects, url):
    role = sorted(PAGES[url])[0]
    html = session_for(personas[role]).get(url).content.decode()
    assert not external_urls(html)
    for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert ref.startswith(("/", "#", "data:")), ref


def test_login_and_error_pages_load_nothing_from_other_hosts(personas):
    assert not external_urls(Client().get("/login/").content.decode())
    assert not external_urls(session_for(personas["clerk"]).get("/devices/").content.decode())


def test_scripts_set_markup_only_through_the_escaping_helper():
    """Page scripts build HTML with ui.js's html`...` (escaping by default) and put it in a page
    with setHtml; nothing else assigns markup, so no untrusted string can slip in unescaped."""
    markup_sink = re.compile(r"\.(?:inner|outer)HTML\s*=|insertAdjacentHTML|document\.write")
    offenders = [
        f"{path.name}:{number}"
        for path in sorted((STATIC / "console" / "js").glob("*.js"))
        if path.name != "ui.js"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if markup_sink.search(line)
    ]
    assert offenders == []


def test_static_files_load_nothing_from_other_hosts():
    files = [p for p in STATIC.rglob("*") if p.suffix in {".js", ".css", ".html", ".svg"}]
    assert files
    for path in files:
        found = external_urls(path.read_text())
        assert not found, f"{path}: {found}"


def test_unknown_page_is_a_plain_404(personas):
    response = session_for(personas["operator"]).get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content and b"Go to my pages" in response.content
    assert not external_urls(response.content.decode())


def test_a_head_request_is_answered_as_a_get_without_a_body(personas):
    client = session_for(personas["operator"])
    response = client.head("/fleet/")
    assert response.status_code == 200 and response.content == b""  # was 405, `Allow: GET`
    assert client.head("/").status_code == 302


def test_api_404_stays_json(personas):
    response = session_for(personas["operator"]).get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_pages_name_static_files_by_content_hash(personas):
    """A page's scripts and styles carry their content hash, so a browser never runs a stale copy."""
    page = session_for(personas["operator"]).get("/fleet/").content.decode()
    names = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert names, page[:500]
    assert all(re.search(r"\.[0-9a-f]{12}\.(?:js|css)$", name) for name in names), names
    client = session_for(personas["operator"])
    for name in names:
        response = client.get(name)
        assert response.status_code == 200, name
        assert "immutable" in response["Cache-Control"]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_warns_when_a_background_process_is_missing(personas, role):
    """The layout carries the banner that static/console/js/health.js fills from /readyz."""
    page = session_for(personas[role]).get(LANDING[role], follow=True).content.decode()
    assert 'id="health-banner"' in page
    assert "/static/console/js/health." in page
    script = (Path(__file__).resolve().parents[2] / "static" / "console" / "js" / "health.js").read_text()
    assert 'fetch("/readyz"' in script and "checks?.[role]" in script and "innerHTML" not in script
