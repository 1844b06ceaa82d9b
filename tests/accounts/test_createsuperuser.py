"""The first administrator, made as the README says (createsuperuser --noinput): the password rules hold."""

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import User
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_env(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "chief")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "chief@example.org")
    return monkeypatch


@pytest.mark.parametrize(
    ("password", "said"),
    [
        ("abc", "This password is too short. It must contain at least 10 characters."),
        ("password123", "This password is too common."),
    ],
)
def test_a_weak_password_given_with_noinput_is_refused_with_djangos_message(superuser_env, password, said):
    """Django validates only a password typed at its prompt: --noinput took "abc" for the one
    account that can do everything."""
    superuser_env.setenv("DJANGO_SUPERUSER_PASSWORD", password)
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD is refused") as refused:
        call_command("createsuperuser", interactive=False, verbosity=0)
    assert said in str(refused.value)
    assert not User.objects.filter(username="chief").exists()


def test_a_good_password_given_with_noinput_makes_the_superuser(superuser_env):
    superuser_env.setenv("DJANGO_SUPERUSER_PASSWORD", "correct-horse-battery-staple")
    call_command("createsuperuser", interactive=False, verbosity=0)
    chief = User.objects.get(username="chief")
    assert chief.is_superuser and chief.check_password("correct-horse-battery-staple")


def test_noinput_without_a_password_still_makes_one_with_no_usable_password(superuser_env):
    superuser_env.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    call_command("createsuperuser", interactive=False, verbosity=0)
    assert not User.objects.get(username="chief").has_usable_password()


def test_the_command_line_ends_non_zero_in_one_line(tmp_path):
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "RTCC_"))}
    environment.update(
        {
            "RTCC_DATA_DIR": str(tmp_path),
            "DJANGO_SUPERUSER_USERNAME": "chief",
            "DJANGO_SUPERUSER_EMAIL": "chief@example.org",
            "DJANGO_SUPERUSER_PASSWORD": "abc",
        }
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip().startswith(
        "CommandError: DJANGO_SUPERUSER_PASSWORD is refused: This password is too short."
    )
