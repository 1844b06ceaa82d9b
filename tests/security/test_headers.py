"""Hardening with DJANGO_DEBUG=false behind the TLS proxy (RTCC_TRUSTED_PROXIES=1, the proxy
saying X-Forwarded-Proto: https): Secure cookies, HSTS, a Content-Security-Policy on every
console page (login included) that allows only the console's own scripts."""

from __future__ import annotations

import re

import httpx
import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from tests.helpers import LiveServer, console_login

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"
CONSOLE_PAGES = {
    "officer": ["/phone/"],
    "operator": ["/fleet/", "/map/", "/incidents/", "/briefings/new/"],
    "clerk": ["/footage/"],
    "it": ["/devices/", "/users/", "/fleet/"],
}


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_strict_csp(response) -> None:
    policy = csp_directives(response)
    assert policy["script-src"] == ["'self'"], policy
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in policy.get("style-src", []) and "'unsafe-eval'" not in str(policy)


def test_the_login_page_has_a_strict_csp():
    response = Client().get("/login/")
    assert response.status_code == 200
    assert_strict_csp(response)


def test_every_console_page_has_a_strict_csp(personas):
    for role, pages in CONSOLE_PAGES.items():
        client = Client()
        console_login(client, personas[role])
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, (role, page)
            assert_strict_csp(response)


def test_the_console_pages_load_no_inline_or_foreign_script(personas):
    client = Client()
    console_login(client, personas["operator"])
    html = client.get("/fleet/").content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert re.search(r'src="/static/', tag) or 'type="application/json"' in tag, tag  # data, never run
    assert not re.search(r"<script\b(?![^>]*application/json)[^>]*>\s*[^<\s]", html)  # no inline script body
    assert " on" not in "".join(re.findall(r"<[^>]+ on[a-z]+=", html))  # no inline handlers


def test_behind_tls_the_cookies_are_secure_and_hsts_is_sent(operator):
    browser = Client()
    response = browser.post("/login/", {"username": "operator", "password": PASSWORD}, secure=True)
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["sessionid"]["httponly"] is True
    page = browser.get("/fleet/", secure=True)
    assert page.cookies["csrftoken"]["secure"] is True
    assert int(re.search(r"max-age=(\d+)", page["Strict-Transport-Security"]).group(1)) >= 31536000


def test_without_tls_cookies_still_work_for_plain_http_development(operator):
    response = Client().post("/login/", {"username": "operator", "password": PASSWORD})
    assert response.status_code == 302 and not response.cookies["sessionid"]["secure"]
    assert "Strict-Transport-Security" not in response


def test_daphne_behind_the_proxy_marks_cookies_secure(transactional_db, operator):
    server = LiveServer(env={"DJANGO_DEBUG": "false", "RTCC_TRUSTED_PROXIES": "1"})
    # The client wrote an address of its own first; the one proxy appended the address it saw.
    forwarded = {"X-Forwarded-For": "198.51.100.99, 203.0.113.5", "X-Forwarded-Proto": "https"}
    try:
        with httpx.Client(base_url=server.url, timeout=10, headers=forwarded) as http:
            page = http.get("/login/")
            assert page.status_code == 200
            token = re.search(r"csrftoken=([^;]+)", page.headers["set-cookie"])[1]
            assert "secure" in page.headers.get("set-cookie", "").lower()
            assert "max-age=31536000" in page.headers["strict-transport-security"]
            assert "script-src 'self'" in page.headers["content-security-policy"]
            login = http.post(
                "/login/",
                data={"username": "operator", "password": PASSWORD, "csrfmiddlewaretoken": token},
                headers={  # the cookie by hand: the test talks plain HTTP to what a browser sees as TLS
                    "Cookie": f"csrftoken={token}",
                    "Referer": f"https://127.0.0.1:{server.port}/login/",
                    "Origin": f"https://127.0.0.1:{server.port}",
                },
            )
            session_cookie = [c for c in login.headers.get_list("set-cookie") if c.startswith("sessionid=")]
            assert login.status_code == 302, login.text[:300]
            assert session_cookie and "secure" in session_cookie[0].lower()
        login_event = AuditEvent.objects.filter(action="auth.login", outcome="success").latest("at")
        assert login_event.source_ip == "203.0.113.5"  # what the proxy saw, not what the client wrote
    finally:
        server.stop()
