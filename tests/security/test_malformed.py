"""Malformed requests that used to answer 500: each is a clear 4xx in the error envelope,
and changes nothing (PROTOCOL: a malformed request never yields a 500)."""

from __future__ import annotations

import httpx
import pytest

from apps.accounts.models import User
from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_at_login_is_a_400(anon, depth):
    body = '{"username": "x", "password": "y", "otp": ' + nested(depth) + "}"
    response = anon.post("/api/v1/auth/token", body, content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) in {"malformed_request", "bad_request"}


def test_deeply_nested_json_in_a_write_changes_nothing(client_for, it_user):
    before = User.objects.count()
    body = (
        '{"username": "new-one", "password": "long-enough-pass", "role": "officer", "full_name": ' + nested(2000) + "}"
    )
    response = client_for(it_user).post("/api/v1/users", body, content_type="application/json")
    assert response.status_code == 400
    assert User.objects.count() == before


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("it", "/api/v1/users?role=of%00ficer"),
        ("it", "/api/v1/devices?kind=%00"),
        ("it", "/api/v1/devices?officer=%00"),
        ("clerk", "/api/v1/clips?case_number=a%00b"),
        ("clerk", "/api/v1/clips?category=%00"),
        ("operator", "/api/v1/incidents?case_number=%00"),
        ("it", "/api/v1/users?search=%00"),
    ],
)
def test_a_nul_character_in_a_query_parameter_is_a_400(client_for, personas, role, url):
    response = client_for(personas[role]).get(url)
    assert response.status_code == 400, response.content
    assert error_code(response)


def test_a_nul_character_in_a_json_string_is_a_400(anon, client_for, it_user):
    response = anon.post("/api/v1/auth/token", {"username": "oper\u0000ator", "password": "x"}, format="json")
    assert response.status_code in (400, 401)
    response = client_for(it_user).post(
        "/api/v1/users",
        {"username": "nul\u0000user", "password": "long-enough-pass", "role": "officer"},
        format="json",
    )
    assert response.status_code == 400
    assert not User.objects.filter(username__startswith="nul").exists()


@pytest.mark.parametrize(
    "query",
    ["page=18446744073709551617", "page=99999999999999999999999999999", "page=%C2%B2", "page_size=1e9", "page=%D9%A1"],
)
def test_an_unusable_page_number_is_a_4xx(client_for, it_user, query):
    response = client_for(it_user).get(f"/api/v1/users?{query}")
    assert response.status_code in (400, 404), response.content
    assert error_code(response)


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/%2e%2e/manage.py",
        "/static/..%2f..%2fmanage.py",
        "/static/%2E%2E%2F%2E%2E%2Frtcc%2Fsettings%2Fbase.py",
        "/static/console/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/static/%00",
    ],
)
def test_an_encoded_parent_path_under_static_is_a_404(live_server_process, path):
    """Served by daphne as in production (static files are handled at the ASGI level)."""
    response = httpx.get(live_server_process.url + path, timeout=10)
    assert response.status_code in (400, 404)
    assert b"DJANGO_SECRET_KEY" not in response.content and b"[project]" not in response.content
    assert httpx.get(live_server_process.url + "/static/console/js/ui.js", timeout=10).status_code == 200


def test_an_object_where_a_list_belongs_is_named_as_json_names_it(client_for, make_user):
    """The message named the parser's own class ("got type JsonBody") to an API client."""
    response = client_for(make_user("operator")).post(
        "/api/v1/briefings",
        {"priority": "urgent", "title": "T", "suspects": {"description": "x"}, "audience": {"incident": True}},
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("suspects") and "JsonBody" not in message and '"object"' in message
