"""Token login, expiry, revocation, lockout, and the console's session login."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent
from tests.helpers import console_login, error_code

PASSWORD = "correct-horse-battery"


def login(client, username, password=PASSWORD, **extra):
    return client.post("/api/v1/auth/token", {"username": username, "password": password, **extra}, format="json")


@pytest.mark.django_db
def test_login_returns_a_working_token(anon, operator):
    response = login(anon, "operator")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {**body["user"], "username": "operator", "role": "operator", "id": str(operator.id)}
    assert body["token"].startswith("rtu_")
    assert body["expires_at"]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert anon.get("/api/v1/me").json()["username"] == "operator"


@pytest.mark.django_db
def test_a_username_signs_in_whatever_its_case(anon, operator):
    """Usernames are unique regardless of case, so `Operator` can only mean `operator`."""
    response = login(anon, "OPERATOR")
    assert response.status_code == 200, response.content
    assert response.json()["user"]["id"] == str(operator.id)
    assert login(anon, "OPERATOR", password="wrong-password").status_code == 401


@pytest.mark.django_db
def test_token_is_stored_hashed(anon, operator):
    token = login(anon, "operator").json()["token"]
    stored = ApiToken.objects.get(user=operator)
    assert token not in stored.key_hash and len(stored.key_hash) == 64


@pytest.mark.django_db
def test_token_expires_after_twelve_hours_by_default(anon, operator):
    token = login(anon, "operator").json()["token"]
    record = ApiToken.objects.get(user=operator)
    assert timedelta(hours=11, minutes=59) < record.expires_at - timezone.now() <= timedelta(hours=12)
    ApiToken.objects.filter(pk=record.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = anon.get("/api/v1/me")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


@pytest.mark.django_db
def test_logout_revokes_the_token(anon, operator):
    token = login(anon, "operator").json()["token"]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert anon.post("/api/v1/auth/logout").status_code == 204
    assert anon.get("/api/v1/me").status_code == 401
    assert AuditEvent.objects.filter(action="auth.logout", actor_id=str(operator.id)).exists()


@pytest.mark.django_db
def test_deactivated_user_token_stops_working(anon, operator):
    token = login(anon, "operator").json()["token"]
    operator.is_active = False
    operator.save()
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert anon.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_a_password_changed_with_manage_py_ends_the_old_tokens_and_is_audited(anon, operator, monkeypatch):
    """A superuser's password can only be reset on the server (`manage.py changepassword`): the
    stolen token must stop at once there too, and the change is in the audit trail."""
    from django.contrib.auth.management.commands import changepassword
    from django.core.management import call_command

    token = login(anon, "operator").json()["token"]
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": "a-whole-new-passphrase-9")
    call_command("changepassword", "operator")
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert anon.get("/api/v1/me").status_code == 401
    [event] = AuditEvent.objects.filter(action="user.password_set", object_id=str(operator.id))
    assert event.actor_type == "system"
    assert login(anon, "operator", password="a-whole-new-passphrase-9").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("username,password", [("operator", "wrong-password"), ("nobody", PASSWORD)])
def test_wrong_credentials_are_401_and_audited(anon, operator, username, password):
    response = login(anon, username, password)
    assert response.status_code == 401
    assert error_code(response) == "invalid_credentials"
    event = AuditEvent.objects.get(action="auth.login", outcome="failure")
    assert event.object_id == username and event.source_ip == "127.0.0.1"


@pytest.mark.django_db
def test_success_is_audited(anon, operator):
    login(anon, "operator")
    assert AuditEvent.objects.filter(action="auth.login", outcome="success", actor_id=str(operator.id)).count() == 1


@pytest.mark.django_db
def test_missing_fields_are_400(anon):
    response = anon.post("/api/v1/auth/token", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_five_failures_lock_the_username_for_ten_minutes(anon, operator, clerk):
    for _ in range(5):
        assert login(anon, "operator", "wrong-password").status_code == 401
    locked = login(anon, "operator")  # even the right password
    assert locked.status_code == 429
    assert error_code(locked) == "locked_out"
    assert 500 <= int(locked["Retry-After"]) <= 601
    assert locked.json()["error"]["message"] == "Too many failed logins: try again in 10 minutes."  # in words
    assert AuditEvent.objects.filter(action="auth.login", outcome="locked").exists()
    # another user is not affected
    assert login(anon, "clerk").status_code == 200


@pytest.mark.django_db
def test_lockout_ends_after_ten_minutes(anon, operator):
    from apps.accounts.models import LoginAttempt

    for _ in range(5):
        login(anon, "operator", "wrong-password")
    LoginAttempt.objects.update(at=timezone.now() - timedelta(minutes=10, seconds=5))
    assert login(anon, "operator").status_code == 200


@pytest.mark.django_db
def test_failures_spread_over_more_than_ten_minutes_do_not_lock(anon, operator):
    from apps.accounts.models import LoginAttempt

    for _ in range(4):
        login(anon, "operator", "wrong-password")
    LoginAttempt.objects.update(at=timezone.now() - timedelta(minutes=11))
    login(anon, "operator", "wrong-password")
    assert login(anon, "operator").status_code == 200


@pytest.mark.django_db
def test_console_login_page_uses_sessions_and_lockout(client, operator):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "operator", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/api/v1/me").json()["username"] == "operator"
    client.post("/logout/")
    assert client.get("/api/v1/me").status_code in (401, 403)
    for _ in range(5):
        assert client.post("/login/", {"username": "operator", "password": "nope"}).status_code == 401
    assert client.post("/login/", {"username": "operator", "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_session_api_writes_need_csrf(operator):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    console_login(browser, operator)
    response = browser.post("/api/v1/auth/logout")
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"password": "a-brand-new-passphrase"}, {"is_active": False}])
def test_a_login_whose_password_was_checked_as_it_reset_it_gets_no_token(anon, it_user, operator, change):
    """The reset commits between the login's password check and its token: the token was made
    after the reset had revoked the person's tokens, and the old password worked for 12 hours."""
    from apps.accounts import services
    from apps.core.errors import Unauthorized

    checked = services.login_check(username="operator", password="correct-horse-battery")
    services.user_update(user=operator, actor=it_user, **change)
    with pytest.raises(Unauthorized):
        services.token_issue(user=checked)
    assert not ApiToken.objects.filter(user=operator, revoked_at__isnull=True).exists()
    refused = AuditEvent.objects.get(action="auth.token_issue", object_id=str(operator.pk))
    assert refused.outcome == "failure"
