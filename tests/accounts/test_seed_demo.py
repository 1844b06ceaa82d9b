"""`manage.py seed_demo`, run at every demo start: the printed logins work, and a restart leaves
what IT changed and the tokens of an unchanged password alone."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.accounts.services import token_issue
from tests.helpers import api_client

pytestmark = pytest.mark.django_db


def seed(password: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--password", password, stdout=out)
    return out.getvalue()


def test_a_restart_keeps_tokens_and_edits_and_a_new_password_ends_the_old_tokens():
    assert "operator" in seed("demo-pass-one")
    operator = User.objects.get(username="operator")
    token, _ = token_issue(user=operator)
    User.objects.filter(username="clerk").update(full_name="Clerk Renamed By IT", badge_number="999")

    seed("demo-pass-one")  # the same password: a restart changes nothing anyone holds
    assert api_client(token=token).get("/api/v1/me").status_code == 200
    clerk = User.objects.get(username="clerk")
    assert (clerk.full_name, clerk.badge_number) == ("Clerk Renamed By IT", "999")

    seed("demo-pass-two")  # a new password ends the old credentials, as IT's reset does
    assert api_client(token=token).get("/api/v1/me").status_code == 401
    login = api_client().post(
        "/api/v1/auth/token", {"username": "operator", "password": "demo-pass-two"}, format="json"
    )
    assert login.status_code == 200, login.content


def test_a_real_account_with_a_demo_name_and_another_role_is_left_alone(make_user):
    """A database where `clerk` is someone's real IT account: the demo seed neither changes its
    password (which would end their tokens) nor prints it as the demo's clerk."""
    it_person = make_user("it", username="clerk")
    token, _ = token_issue(user=it_person)
    out = seed("demo-pass-one")
    assert "an existing it account: left unchanged" in out
    assert api_client(token=token).get("/api/v1/me").status_code == 200
    assert User.objects.get(username="clerk").role == "it"


def test_a_restart_without_a_password_prints_the_same_logins_and_ends_nothing(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    """The demo started again (no --password) keeps each demo person's password, so the tokens,
    sessions and evidence links they held still work; one IT changed stays IT's."""
    settings.DATA_DIR = tmp_path
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    first = {line.split()[1]: line.split()[2] for line in out.getvalue().splitlines()[2:]}
    assert set(first) == {"officer", "officer2", "operator", "clerk", "it"}
    assert (tmp_path / "demo-logins.json").stat().st_mode & 0o077 == 0  # the owner's alone
    login = api_client().post("/api/v1/auth/token", {"username": "clerk", "password": first["clerk"]}, format="json")
    token = login.json()["token"]
    officer = User.objects.get(username="officer")
    officer.set_password("set-by-it-" + "x" * 12)
    officer.save()

    again = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=again)
    printed = again.getvalue()
    assert f"clerk     {first['clerk']}" in printed and f"it        {first['it']}" in printed
    assert "officer   (not the password the demo kept: left unchanged;" in printed
    assert api_client(token=token).get("/api/v1/me").status_code == 200
    assert User.objects.get(username="officer").check_password("set-by-it-" + "x" * 12)
