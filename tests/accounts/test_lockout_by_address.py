"""Lockout by username and address: a stranger cannot lock someone else's account from their
own address, one address trying many usernames is slowed, and the console's 429 says when."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.helpers import error_code

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def login(client, username, password=PASSWORD, ip="10.0.0.1"):
    return client.post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )


def test_failures_from_one_address_do_not_lock_the_account_elsewhere(anon, operator):
    for _ in range(5):
        assert login(anon, "operator", "wrong-password", ip="203.0.113.7").status_code == 401
    assert login(anon, "operator", ip="203.0.113.7").status_code == 429
    assert login(anon, "operator", ip="10.1.2.3").status_code == 200  # the officer at the station


def test_one_address_trying_many_usernames_is_slowed(anon, operator, settings):
    settings.RTCC_LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    for n in range(20):
        response = login(anon, f"nobody{n}", "wrong-password", ip="198.51.100.9")
        assert response.status_code == 401, n
    slowed = login(anon, "operator", ip="198.51.100.9")
    assert slowed.status_code == 429 and error_code(slowed) == "locked_out"
    assert int(slowed["Retry-After"]) > 0
    assert login(anon, "operator", ip="10.1.2.3").status_code == 200


def test_many_addresses_against_one_account_still_lock_it(anon, operator):
    """A spread-out guessing attack (a botnet) is bounded too, at a higher count."""
    for n in range(50):
        login(anon, "operator", "wrong-password", ip=f"192.0.2.{n + 1}")
    assert login(anon, "operator", ip="10.1.2.3").status_code == 429


def test_the_console_login_429_has_retry_after(operator):
    browser = Client(REMOTE_ADDR="10.9.9.9")
    for _ in range(5):
        browser.post("/login/", {"username": "operator", "password": "wrong-password"})
    response = browser.post("/login/", {"username": "operator", "password": PASSWORD})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 601


def test_a_centers_shared_address_is_not_locked_out_by_a_shifts_typos(anon, operator):
    """Thirty people behind the center's one address each mistype their password twice: none of
    them, and no one else there, is locked out (a spray of usernames still is: the test above)."""
    for n in range(30):
        for _ in range(2):
            assert login(anon, f"officer{n}", "wrong-password", ip="10.20.0.1").status_code == 401
    assert login(anon, "operator", ip="10.20.0.1").status_code == 200
