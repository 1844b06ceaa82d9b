"""The contract's error envelope on every kind of bad request, and no change on bad input."""

import json

import pytest

from apps.accounts.models import User
from tests.helpers import error_code


@pytest.mark.django_db
def test_unknown_api_url_is_a_404_envelope(anon):
    response = anon.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


@pytest.mark.django_db
def test_wrong_method_is_a_405_envelope(anon):
    response = anon.get("/api/v1/auth/token")
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"


@pytest.mark.django_db
def test_malformed_json_is_a_400_envelope(anon):
    response = anon.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "malformed_request"


@pytest.mark.django_db
def test_unsupported_media_type_is_a_415_envelope(anon):
    response = anon.post("/api/v1/auth/token", data="username=x", content_type="text/plain")
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["multipart", "urlencoded"])
def test_a_form_body_on_a_json_endpoint_is_a_415_and_changes_nothing(client_for, it_user, operator, form):
    """JSON everywhere: a form post of the same fields neither creates a user nor queues a command."""
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    from apps.control.models import Command
    from apps.devices.models import Device

    def post(user, url, fields):
        if form == "multipart":
            return client_for(user).post(url, encode_multipart(BOUNDARY, fields), content_type=MULTIPART_CONTENT)
        body = "&".join(f"{k}={v}" for k, v in fields.items())
        return client_for(user).post(url, body, content_type="application/x-www-form-urlencoded")

    fields = {"username": "by-form", "password": "long-enough-pass-1", "role": "officer"}
    response = post(it_user, "/api/v1/users", fields)
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"
    assert not User.objects.filter(username="by-form").exists()
    device = Device.objects.create(kind="bodycam", serial="FORM-1")
    response = post(operator, f"/api/v1/devices/{device.pk}/commands", {"action": "start_recording", "reason": "x"})
    assert response.status_code == 415
    assert not Command.objects.filter(device=device).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ('{"oops', "application/json", 400, "malformed_request"),
        ("[1]", "application/json", 400, "malformed_request"),  # JSON, but no object: every body is one
        ("null", "application/json", 400, "malformed_request"),
        ("a=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("stop", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_an_endpoint_that_takes_no_body_refuses_a_bad_one_and_does_nothing(
    client_for, anon, it_user, operator, body, content_type, status, code
):
    """Revoke, logout and the like read no body, yet a malformed one (or one of the wrong media
    type) is refused as everywhere else, and the action is not done; no body, or {}, is fine."""
    from apps.accounts.models import ApiToken
    from apps.devices.models import Device

    device = Device.objects.create(kind="bodycam", serial="BODYLESS-1")
    url = f"/api/v1/devices/{device.pk}/revoke"
    assert anon.post(url, data=body, content_type=content_type).status_code == 401  # who first, then what
    response = client_for(it_user).post(url, data=body, content_type=content_type)
    assert response.status_code == status and error_code(response) == code
    device.refresh_from_db()
    assert not device.revoked

    operator_client = client_for(operator)
    tokens = ApiToken.objects.filter(user=operator, revoked_at__isnull=True).count()
    response = operator_client.post("/api/v1/auth/logout", data=body, content_type=content_type)
    assert response.status_code == status and error_code(response) == code
    assert ApiToken.objects.filter(user=operator, revoked_at__isnull=True).count() == tokens

    assert client_for(it_user).post(url).status_code == 200  # no body at all
    assert client_for(it_user).post(url, data="{}", content_type="application/json").status_code == 200
    device.refresh_from_db()
    assert device.revoked


@pytest.mark.django_db
def test_oversized_body_is_a_413_envelope(client_for, it_user):
    body = json.dumps({"username": "big", "password": "x" * (2 * 1024 * 1024), "role": "officer"})
    response = client_for(it_user).post("/api/v1/users", data=body, content_type="application/json")
    assert response.status_code == 413
    assert error_code(response) == "too_large"
    assert not User.objects.filter(username="big").exists()


@pytest.mark.django_db
def test_missing_credentials_is_a_401_envelope(anon):
    response = anon.get("/api/v1/users")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["message"] == "Authentication credentials were not provided."


@pytest.mark.django_db
def test_garbage_token_is_a_401_envelope(client_for):
    response = client_for(None, token="rtu_not-a-real-token").get("/api/v1/users")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    for header in ("Bearer garbage", "Basic dXNlcjpwYXNz", "Token abc"):  # given, but of no kind rtcc knows
        response = client_for(None).get("/api/v1/users", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401 and error_code(response) == "not_authenticated"
        assert response.json()["error"]["message"] == "The credentials given are not valid.", header


@pytest.mark.django_db
def test_validation_errors_name_the_fields(client_for, it_user):
    response = client_for(it_user).post("/api/v1/users", {"username": "", "role": "sheriff"}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid"
    assert {"username", "password", "role"} <= set(body["fields"])
    assert all(isinstance(messages, list) and messages for messages in body["fields"].values())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "raw"),
    [
        ("post", "/api/v1/users", '{"username": "u", "password": "Off-pass-1234x", "role": "\\ud800"}'),
        ("post", "/api/v1/devices", '{"kind": "\\ud800", "serial": "X"}'),
        ("patch", "/api/v1/users/{me}", '{"\\ud800": 1}'),  # an unknown field's name
    ],
)
def test_a_lone_surrogate_echoed_in_an_error_is_a_400_not_a_500(client_for, it_user, method, url, raw):
    """The message names what was sent ("\\ud800" is not a valid choice), and a lone surrogate cannot
    be written as UTF-8: the answer was a 500."""
    from apps.accounts.models import User
    from apps.devices.models import Device

    response = getattr(client_for(it_user), method)(url.format(me=it_user.pk), raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert "\\ud800" in response.content.decode()  # written as its escape
    assert User.objects.count() == 1 and not Device.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("reason", [5, 1.5, True, ["x"], {"text": "x"}])
def test_a_number_where_text_belongs_is_a_400_not_stored_as_text(client_for, operator, reason):
    from apps.control.models import Command
    from apps.devices.models import Device

    device = Device.objects.create(kind="bodycam", serial="TYPES-1")
    response = client_for(operator).post(
        f"/api/v1/devices/{device.pk}/commands", {"action": "start_recording", "reason": reason}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "reason" in response.json()["error"]["fields"]
    assert not Command.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("username", [123, 5.5])
def test_a_number_where_a_patterned_name_belongs_is_a_400(client_for, it_user, username):
    from apps.accounts.models import User

    body = {"username": username, "password": "Sup3r-secret-pw!", "role": "clerk"}
    response = client_for(it_user).post("/api/v1/users", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"]["username"] == ["Not a valid string."]
    assert not User.objects.filter(username=str(username)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["no", "off", 0, 1, "0", "yes", "true", "false"])
def test_only_true_or_false_is_a_boolean(client_for, it_user, other_officer, value):
    api = client_for(it_user)
    response = api.patch(f"/api/v1/users/{other_officer.id}", {"is_active": value}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"]["is_active"] == ["Must be true or false."]
    other_officer.refresh_from_db()
    assert other_officer.is_active  # "no" used to deactivate the account
    assert api.patch(f"/api/v1/users/{other_officer.id}", {"is_active": False}, format="json").status_code == 200
    other_officer.refresh_from_db()
    assert not other_officer.is_active


@pytest.mark.django_db
@pytest.mark.parametrize("ttl", ["60", " 60 ", "1e2"])
def test_a_number_written_as_text_in_a_json_body_is_a_400(client_for, operator, ttl):
    from apps.control.models import Command
    from apps.devices.models import Device

    device = Device.objects.create(kind="bodycam", serial="TYPES-2")
    api = client_for(operator)
    url = f"/api/v1/devices/{device.pk}/commands"
    response = api.post(url, {"action": "start_recording", "reason": "x", "ttl_seconds": ttl}, format="json")
    assert response.status_code == 400, response.content
    assert "ttl_seconds" in response.json()["error"]["fields"]
    assert not Command.objects.exists()
    answer = api.post(url, {"action": "start_recording", "reason": "x", "ttl_seconds": 60}, format="json")
    assert answer.status_code == 202 and answer.json()["ttl_seconds"] == 60


@pytest.mark.django_db
def test_a_number_of_too_many_digits_is_a_plain_400(client_for, operator):
    response = client_for(operator).post(
        "/api/v1/auth/logout", data='{"n": ' + "9" * 5000 + "}", content_type="application/json"
    )
    assert response.status_code == 400 and error_code(response) == "malformed_request"
    assert "too many digits" in response.json()["error"]["message"]
    assert "set_int_max_str_digits" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["page=abc", "page=0", "page_size=-3", "page_size=501", "role=sheriff"])
def test_unusable_query_parameter_is_a_400(client_for, it_user, query):
    response = client_for(it_user).get(f"/api/v1/users?{query}")
    assert response.status_code == 400
    assert error_code(response) == "invalid"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/clips?from=yesterday&from=2026-11-01T00:00:00Z",
        "/api/v1/clips?from=2026-11-01T00:00:00Z&from=yesterday",
        "/api/v1/devices?kind=bodycam&kind=phone",
    ],
)
def test_a_query_parameter_given_twice_is_a_400_not_the_last_one_winning(client_for, clerk, it_user, url):
    from apps.devices.models import Device

    Device.objects.create(kind="bodycam", serial="TWICE-1")
    response = client_for(clerk if "clips" in url else it_user).get(url)
    assert response.status_code == 400 and error_code(response) == "invalid_query"
    assert set(response.json()["error"]["fields"]) == {url.split("?")[1].split("=")[0]}


class _DatabaseDownApp:
    """An ASGI app whose database is down, as a fast path finds it: Django's pool gives up on a
    connection (the command POST's token read while PostgreSQL was stopped), or psycopg's does."""

    def __init__(self, error: Exception, *, after_start: bool = False) -> None:
        self.error, self.after_start = error, after_start

    async def __call__(self, scope, receive, send):
        if self.after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise self.error


def _down_errors():
    import psycopg
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    return [
        OperationalError("couldn't get a connection after 10.00 sec"),
        PoolTimeout("couldn't get a connection after 5.00 sec"),
        psycopg.OperationalError("connection failed: Connection refused"),
    ]


@pytest.mark.parametrize("error", _down_errors(), ids=["django", "pool", "psycopg"])
def test_a_database_error_escaping_a_fast_path_is_a_503_envelope_with_retry_after(error):
    """Not daphne's own 500 page: the contract's 503 `unavailable`, as a view answers it."""
    from asgiref.sync import async_to_sync

    from apps.core.fastpaths import DatabaseDownAnswer
    from tests.helpers import asgi_request

    status, headers, body = async_to_sync(asgi_request)(
        DatabaseDownAnswer(_DatabaseDownApp(error)), "POST", "/api/v1/devices/x/commands", body=b"{}"
    )
    assert status == 503
    assert json.loads(body)["error"]["code"] == "unavailable"
    assert headers[b"retry-after"] == b"2" and headers[b"content-type"] == b"application/json"


def test_a_database_error_after_the_answer_started_is_not_answered_twice():
    from asgiref.sync import async_to_sync
    from django.db import OperationalError

    from apps.core.fastpaths import DatabaseDownAnswer
    from tests.helpers import asgi_request

    with pytest.raises(OperationalError):
        async_to_sync(asgi_request)(
            DatabaseDownAnswer(_DatabaseDownApp(OperationalError("gone"), after_start=True)), "GET", "/api/v1/live/x"
        )
