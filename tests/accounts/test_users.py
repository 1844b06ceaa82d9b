"""Users API: only IT manages people; every role and a device are checked."""

import pytest

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from tests.conftest import ROLES
from tests.helpers import error_code

NEW_USER = {
    "username": "newofficer",
    "password": "long-enough-password",
    "role": "officer",
    "full_name": "Jo Park",
    "badge_number": "9001",
}


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
@pytest.mark.parametrize(
    "bad", [{"role": "sheriff"}, {"password": "short"}, {"username": "has space"}, {"password": "password123"}]
)
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


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_only_it_changes_a_user(client_for, personas, other_officer, role):
    response = client_for(personas[role]).patch(
        f"/api/v1/users/{other_officer.id}", {"badge_number": "7777"}, format="json"
    )
    other_officer.refresh_from_db()
    if role == "it":
        assert response.status_code == 200 and response.json()["badge_number"] == "7777"
        event = AuditEvent.objects.get(action="user.update", object_id=str(other_officer.id))
        assert event.details["changed"] == ["badge_number"]
    else:
        assert response.status_code == 403 and other_officer.badge_number == "4712"
    assert client_for(personas[role]).get(f"/api/v1/users/{other_officer.id}").status_code == (
        200 if role == "it" else 403
    )


@pytest.mark.django_db
def test_a_superusers_role_cannot_be_changed_to_one_it_would_not_act_as(client_for, make_user, superuser):
    """A superuser acts as IT whatever its stored role: a PATCH to operator used to answer 200 and
    change nothing it could do."""
    api = client_for(make_user("it", username="root2", is_superuser=True, is_staff=True))
    response = api.patch(f"/api/v1/users/{superuser.id}", {"role": "operator"}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "superuser_role"
    superuser.refresh_from_db()
    assert superuser.role == "officer"  # as it was stored
    assert api.patch(f"/api/v1/users/{superuser.id}", {"role": "it"}, format="json").status_code == 200
    assert api.patch(f"/api/v1/users/{superuser.id}", {"full_name": "Root"}, format="json").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"password": "Hijack-pass-12345"}, {"is_active": False}, {"full_name": "x"}])
def test_it_cannot_change_a_superuser(client_for, it_user, superuser, change):
    """IT manages people, not the superuser above it: its new password would have handed IT the
    admin, where it reads what the API keeps from it."""
    api = client_for(it_user)
    name = superuser.full_name
    response = api.patch(f"/api/v1/users/{superuser.id}", change, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "forbidden"
    superuser.refresh_from_db()
    assert superuser.is_active and superuser.full_name == name and superuser.check_password("correct-horse-battery")
    assert api.delete(f"/api/v1/users/{superuser.id}/mfa").status_code == 403


@pytest.mark.django_db
def test_usernames_differing_only_in_case_are_one_name(client_for, it_user):
    api = client_for(it_user)
    assert api.post("/api/v1/users", {**NEW_USER, "username": "slee"}, format="json").status_code == 201
    response = api.post("/api/v1/users", {**NEW_USER, "username": "SLee"}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "username_taken"
    from apps.accounts.models import User

    assert list(User.objects.filter(username__iexact="slee").values_list("username", flat=True)) == ["slee"]


@pytest.mark.django_db
def test_deactivating_a_user_ends_their_tokens_at_once(client_for, it_user, other_officer):
    officer_client = client_for(other_officer)
    assert officer_client.get("/api/v1/me").status_code == 200
    response = client_for(it_user).patch(f"/api/v1/users/{other_officer.id}", {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert officer_client.get("/api/v1/me").status_code == 401
    login = client_for(None).post(
        "/api/v1/auth/token", {"username": "officer2", "password": "correct-horse-battery"}, format="json"
    )
    assert login.status_code == 401


@pytest.mark.django_db
def test_a_password_reset_ends_old_tokens(client_for, it_user, other_officer):
    officer_client = client_for(other_officer)
    response = client_for(it_user).patch(
        f"/api/v1/users/{other_officer.id}", {"password": "a-brand-new-passphrase"}, format="json"
    )
    assert response.status_code == 200
    assert officer_client.get("/api/v1/me").status_code == 401
    other_officer.refresh_from_db()
    assert other_officer.check_password("a-brand-new-passphrase")


@pytest.mark.django_db
def test_it_cannot_lock_itself_out(client_for, it_user):
    client = client_for(it_user)
    response = client.patch(f"/api/v1/users/{it_user.id}", {"is_active": False}, format="json")
    assert response.status_code == 409 and error_code(response) == "self_change"
    assert client.patch(f"/api/v1/users/{it_user.id}", {"role": "officer"}, format="json").status_code == 409
    it_user.refresh_from_db()
    assert it_user.is_active and it_user.role == "it"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad", [{"role": "sheriff"}, {"password": "short"}, {}, {"username": "renamed"}, {"is_active": "maybe"}]
)
def test_bad_user_changes_are_400_and_change_nothing(client_for, it_user, other_officer, bad):
    response = client_for(it_user).patch(f"/api/v1/users/{other_officer.id}", bad, format="json")
    assert response.status_code == 400 and error_code(response) == "invalid"
    other_officer.refresh_from_db()
    assert other_officer.role == "officer" and other_officer.username == "officer2" and other_officer.is_active


@pytest.mark.django_db
def test_unknown_user_is_404(client_for, it_user):
    response = client_for(it_user).patch(
        "/api/v1/users/00000000-0000-0000-0000-000000000000", {"badge_number": "1"}, format="json"
    )
    assert response.status_code == 404 and error_code(response) == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_only_it_resets_a_second_factor(client_for, personas, other_officer, role):
    User.objects.filter(pk=other_officer.pk).update(mfa_enabled=True, totp_secret_sealed="sealed")
    response = client_for(personas[role]).delete(f"/api/v1/users/{other_officer.id}/mfa")
    other_officer.refresh_from_db()
    if role == "it":
        assert response.status_code == 204 and not other_officer.mfa_enabled
        assert AuditEvent.objects.filter(action="auth.mfa_reset", object_id=str(other_officer.id)).exists()
    else:
        assert response.status_code == 403 and other_officer.mfa_enabled


@pytest.mark.django_db
def test_the_previous_release_can_still_add_people_to_the_upgraded_schema():
    """During a rolling upgrade (or after a rollback) the previous release's code inserts people
    without credentials_version or role_version: the columns' database defaults take them (it was a
    NOT NULL violation, answered as username_taken)."""
    import uuid

    from django.db import connection
    from django.utils import timezone

    new = {"credentials_version", "role_version"}
    columns = [f.column for f in User._meta.concrete_fields if f.column not in new]  # the old model's
    values = {
        "id": uuid.uuid4().hex if connection.vendor == "sqlite" else uuid.uuid4(),
        "password": "!",
        "last_login": None,
        "is_superuser": False,
        "username": "added-by-the-old-code",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_staff": False,
        "is_active": True,
        "date_joined": timezone.now(),
        "role": "officer",
        "full_name": "",
        "badge_number": "",
        "totp_secret_sealed": "",
        "mfa_enabled": False,
        "totp_last_step": 0,
    }
    assert set(columns) == set(values), set(columns) ^ set(values)
    table = User._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
            [values[c] for c in columns],
        )
    added = User.objects.get(username="added-by-the-old-code")
    assert (added.credentials_version, added.role_version) == (0, 0)


@pytest.mark.django_db
def test_a_change_read_before_a_deactivation_committed_does_not_make_the_person_active_again(
    make_user, it_user, other_officer
):
    """Two IT users at once: one deactivates, the other renames from the person as read before
    the deactivation. The rename wrote the whole row back: active again, credentials as before."""
    from apps.accounts import services

    second_it = make_user("it", username="itadmin2")
    read_by_the_rename = User.objects.get(pk=other_officer.pk)
    services.user_update(user=User.objects.get(pk=other_officer.pk), actor=it_user, is_active=False)
    services.user_update(user=read_by_the_rename, actor=second_it, full_name="Renamed")

    other_officer.refresh_from_db()
    assert other_officer.is_active is False and other_officer.credentials_version == 1
    assert other_officer.full_name == "Renamed"
    rename = AuditEvent.objects.filter(action="user.update", object_id=str(other_officer.pk)).order_by("at").last()
    assert rename.details["changed"] == ["full_name"] and rename.details["after"]["is_active"] is False
