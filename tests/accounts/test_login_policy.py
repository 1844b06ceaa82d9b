"""Every way in goes through one login policy (second factor, lockout, audit): the Django
admin has no login of its own, and a session that skipped the policy works nowhere."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from apps.accounts import mfa
from apps.accounts.models import User
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def _with_mfa(user: User) -> str:
    secret = mfa.new_secret()
    User.objects.filter(pk=user.pk).update(mfa_enabled=True, totp_secret_sealed=mfa.seal(secret), totp_last_step=0)
    return secret


def test_admin_login_with_a_password_alone_lets_nobody_in(superuser):
    _with_mfa(superuser)
    browser = Client()
    response = browser.post("/admin/login/", {"username": superuser.username, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code in (301, 302)
    assert response["Location"].startswith("/login/")
    assert "_auth_user_id" not in browser.session
    assert browser.get("/admin/").status_code == 302
    assert browser.get("/api/v1/users").status_code in (401, 403)


def test_admin_pages_send_to_the_console_login(superuser):
    response = Client().get("/admin/devices/device/", follow=True)
    final, _ = response.redirect_chain[-1]
    assert final.startswith("/login/") and "next=/admin/devices/device/" in final.replace("%2F", "/")
    assert response.status_code == 200 and b'name="otp"' in response.content


def test_the_admin_opens_after_the_console_login_with_second_factor(superuser):
    secret = _with_mfa(superuser)
    browser = Client()
    no_otp = browser.post("/login/", {"username": superuser.username, "password": PASSWORD, "next": "/admin/"})
    assert no_otp.status_code == 401
    assert browser.get("/admin/").status_code == 302
    response = browser.post(
        "/login/",
        {"username": superuser.username, "password": PASSWORD, "otp": _code(secret), "next": "/admin/"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor_id=str(superuser.pk), outcome="success").exists()


def test_a_session_that_skipped_the_login_policy_works_nowhere(superuser):
    """Django's own login (what the stock admin login does) makes a session; rtcc refuses it."""
    browser = Client()
    assert browser.login(username=superuser.username, password=PASSWORD)
    assert browser.get("/api/v1/users").status_code in (401, 403)
    assert browser.get("/admin/").status_code == 302
    assert browser.get("/devices/").status_code == 302


def test_lockout_covers_the_admin(superuser):
    browser = Client()
    for _ in range(5):
        browser.post("/login/", {"username": superuser.username, "password": "wrong-password", "next": "/admin/"})
    response = browser.post("/login/", {"username": superuser.username, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 429
    assert browser.get("/admin/").status_code == 302


def test_a_console_session_ends_after_thirty_idle_minutes(operator):
    from apps.accounts.sessions import SEEN_KEY

    browser = Client()
    assert browser.post("/login/", {"username": operator.username, "password": PASSWORD}).status_code == 302
    assert browser.get("/api/v1/me").status_code == 200
    session = browser.session
    session[SEEN_KEY] = int(time.time()) - 29 * 60
    session.save()
    assert browser.get("/api/v1/me").status_code == 200  # used again: the clock restarts
    session = browser.session
    assert session[SEEN_KEY] >= int(time.time()) - 5
    session[SEEN_KEY] = int(time.time()) - 31 * 60
    session.save()
    assert browser.get("/api/v1/me").status_code in (401, 403)
    assert browser.get("/fleet/").status_code == 302


def _code(secret: str) -> str:
    return mfa.code_at(secret, int(time.time() // mfa.STEP))


def test_a_console_session_ended_by_a_deactivation_stays_ended_after_a_reactivation(operator, it_user):
    """IT deactivates a person (their sessions stop at once) and reactivates them later: they sign
    in again; the browser left signed in before is not let back in."""
    from apps.accounts.services import user_update

    browser = Client()
    assert browser.post("/login/", {"username": operator.username, "password": PASSWORD}).status_code == 302
    assert browser.get("/api/v1/me").status_code == 200
    user_update(user=operator, actor=it_user, is_active=False)
    assert browser.get("/api/v1/me").status_code in (401, 403)
    user_update(user=operator, actor=it_user, is_active=True)
    assert browser.get("/api/v1/me").status_code in (401, 403)
    assert browser.get("/fleet/").status_code == 302
    again = Client()
    assert again.post("/login/", {"username": operator.username, "password": PASSWORD}).status_code == 302
    assert again.get("/api/v1/me").status_code == 200
