"""Users API: only IT manages people; every role and a device are checked."""

import pytest

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from tests.conftest import ROLES
from tests.helpers import error_code

NEW_USER = {"username": "newofficer", "password": "long-enough-password", "role": "officer",
            "full_name": "Jo Park", "badge_number": "9001"}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_only_it_creates_users(client_for, personas, role):
    response = client_for(personas[role]).post("/api/v1/users", NEW_USER, format="json")
    if role == "it":
        assert response.status_code == 201
        body = response.json()
        assert body["username"] == "newofficer" and body["role"] == "officer" and "password" not in body
        user = User.objects.get(username="newofficer")
        assert user.check_password(NEW_USER["password"]) and user.password != NEW_USER["password"]
        assert AuditEvent.objects.filter(action="user.create", object_id=str(user.id)).exists()
    else:
        assert response.status_code == 403
        assert error_code(response) == "forbidden"
        assert not User.objects.filter(username="newofficer").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_only_it_lists_users(client_for, personas, role):
    response = client_for(personas[role]).get("/api/v1/users?role=officer")
    if role == "it":
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"count", "next", "previous", "results"}
        assert [u["username"] for u in body["results"]] == ["officer"]
    else:
        assert response.status_code == 403


@pytest.mark.django_db
def test_superuser_acts_as_it(client_for, superuser):
    assert client_for(superuser).post("/api/v1/users", NEW_USER, format="json").status_code == 201
    assert client_for(superuser).get("/api/v1/me").json()["role"] == "it"


@pytest.mark.django_db
def test_anonymous_gets_401(anon):
    assert anon.get("/api/v1/users").status_code == 401
    assert anon.post("/api/v1/users", NEW_USER, format="json").status_code == 401


@pytest.mark.django_db
def test_a_device_cannot_manage_users(client_for):
    from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token
    from apps.devices.models import Device

    token = new_token(DEVICE_PREFIX)
    Device.objects.create(kind="bodycam", serial="CAM-1", token_hash=hash_token(token))
    assert client_for(None, token=token).get("/api/v1/users").status_code == 403


@pytest.mark.django_db
def test_duplicate_username_is_409(client_for, it_user, officer):
    response = client_for(it_user).post("/api/v1/users", {**NEW_USER, "username": "officer"}, format="json")
    assert response.status_code == 409
    assert error_code(response) == "username_taken"


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [{"role": "sheriff"}, {"password": "short"}, {"username": "has space"},
                                 {"password": "password123"}])
def test_bad_input_is_400_and_creates_nothing(client_for, it_user, bad):
    response = client_for(it_user).post("/api/v1/users", {**NEW_USER, **bad}, format="json")
    assert response.status_code == 400
    assert error_code(response) == "invalid"
    assert not User.objects.filter(username=NEW_USER["username"]).exists()
    assert not AuditEvent.objects.filter(action="user.create").exists()


@pytest.mark.django_db
def test_createsuperuser_noninteractive_makes_the_first_admin(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-admin-password")
    call_command("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.org")
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.effective_role == "it" and admin.role == "it"


@pytest.mark.django_db
def test_role_filter_goes_by_effective_role(client_for, it_user, officer, make_user):
    make_user("officer", username="legacyroot", is_superuser=True)  # a superuser whose stored role is officer
    client = client_for(it_user)
    officers = [u["username"] for u in client.get("/api/v1/users?role=officer").json()["results"]]
    it_staff = [u["username"] for u in client.get("/api/v1/users?role=it").json()["results"]]
    assert officers == ["officer"]
    assert it_staff == ["itadmin", "legacyroot"]
