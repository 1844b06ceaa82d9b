"""TOTP second factor: set up, confirm, login with a code, replay refused, lockout counts it."""

import time

import pytest

from apps.accounts import mfa
from apps.accounts.models import User
from tests.helpers import error_code

PASSWORD = "correct-horse-battery"


def code(secret, offset_steps=0):
    return mfa.code_at(secret, int(time.time() // mfa.STEP) + offset_steps)


@pytest.fixture
def mfa_operator(client_for, operator):
    client = client_for(operator)
    secret = client.post("/api/v1/me/mfa").json()["secret"]
    assert client.post("/api/v1/me/mfa/confirm", {"otp": code(secret)}, format="json").status_code == 204
    # the confirm code is spent; start logins from a fresh step
    User.objects.filter(pk=operator.pk).update(totp_last_step=0)
    return operator, secret


def login(client, **extra):
    return client.post("/api/v1/auth/token", {"username": "operator", "password": PASSWORD, **extra}, format="json")


def test_rfc6238_reference_vector():
    # RFC 6238 appendix B, SHA-1, T=59 -> 94287082 (8 digits); the 6-digit code is its tail.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert mfa.code_at(secret, 59 // 30) == "287082"


@pytest.mark.django_db
def test_setup_returns_a_secret_and_stores_it_sealed(client_for, operator):
    body = client_for(operator).post("/api/v1/me/mfa").json()
    assert body["otpauth_uri"].startswith("otpauth://totp/rtcc:operator?secret=")
    operator.refresh_from_db()
    assert body["secret"] not in operator.totp_secret_sealed and not operator.mfa_enabled


@pytest.mark.django_db
def test_wrong_confirm_code_keeps_mfa_off(client_for, operator):
    client = client_for(operator)
    client.post("/api/v1/me/mfa")
    response = client.post("/api/v1/me/mfa/confirm", {"otp": "000000"}, format="json")
    assert response.status_code == 400 and error_code(response) == "invalid"
    operator.refresh_from_db()
    assert not operator.mfa_enabled


@pytest.mark.django_db
def test_login_needs_the_code_once_enabled(anon, mfa_operator):
    _, secret = mfa_operator
    missing = login(anon)
    assert missing.status_code == 401 and error_code(missing) == "otp_required"
    wrong = login(anon, otp="123456" if code(secret) != "123456" else "654321")
    assert wrong.status_code == 401 and error_code(wrong) == "invalid_otp"
    assert login(anon, otp=code(secret)).status_code == 200


@pytest.mark.django_db
def test_a_code_works_only_once(anon, mfa_operator):
    _, secret = mfa_operator
    otp = code(secret)
    assert login(anon, otp=otp).status_code == 200
    replay = login(anon, otp=otp)
    assert replay.status_code == 401 and error_code(replay) == "invalid_otp"


@pytest.mark.django_db
def test_wrong_codes_count_toward_lockout(anon, mfa_operator):
    _, secret = mfa_operator
    for _ in range(5):
        login(anon, otp="999999" if code(secret) != "999999" else "111111")
    assert login(anon, otp=code(secret)).status_code == 429


@pytest.mark.django_db
def test_turning_mfa_off_needs_a_code(client_for, mfa_operator):
    operator, secret = mfa_operator
    client = client_for(operator)
    assert client.delete("/api/v1/me/mfa", {"otp": "000000"}, format="json").status_code == 400
    assert client.delete("/api/v1/me/mfa", {"otp": code(secret)}, format="json").status_code == 204
    operator.refresh_from_db()
    assert not operator.mfa_enabled and not operator.totp_secret_sealed


@pytest.mark.django_db
def test_mfa_endpoints_need_a_person(anon):
    assert anon.post("/api/v1/me/mfa").status_code == 401
