"""Every list refuses a query parameter it does not read (a typo) with 400 naming it, instead of
answering as if it had not been given. The lists are taken from the schema (their 200 is a page,
or the bare list of categories), each called as a principal the policy admits."""

from __future__ import annotations

import re

import pytest

from tests.helpers import error_code
from tests.security.test_authorization_matrix import POLICY
from tests.security.test_fuzz_schema import build_world, principal_credentials


def list_operations(anon) -> list[str]:
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    lists = []
    for path, item in schema["paths"].items():
        ok = item.get("get", {}).get("responses", {}).get("200", {})
        body = ok.get("content", {}).get("application/json", {}).get("schema", {})
        if body.get("type") == "array" or "results" in body.get("properties", {}):
            lists.append(path)
    return sorted(lists)


@pytest.mark.django_db
def test_every_list_answers_an_unknown_query_parameter_with_400_naming_it(make_user, anon):
    from rest_framework.test import APIClient

    world = build_world(make_user)
    credentials = principal_credentials(world)
    paths = list_operations(anon)
    assert {"/api/v1/devices", "/api/v1/users", "/api/v1/devices/{device_id}/commands"} <= set(paths)
    wrong = []
    for path in paths:
        who = sorted(POLICY[f"GET {path}"] - {"superuser"})[0]
        url = re.sub(r"\{(\w+)\}", lambda m: world["ids"][m.group(1)], path)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=credentials[who]()["headers"]["Authorization"])
        response = client.get(url, {"sate": "queued"})  # a typo of a filter
        if (
            response.status_code != 400
            or error_code(response) != "invalid"
            or "sate" not in response.json()["error"].get("fields", {})
        ):
            wrong.append(f"{path} as {who}: {response.status_code} {response.content[:200]!r}")
    assert wrong == []


@pytest.mark.django_db
def test_the_reports_and_the_outbox_refuse_an_unknown_query_parameter_too(client_for, operator, officer, anon):
    """Endpoints that are not lists but read their query string: a misspelled parameter is 400
    naming it (it would otherwise give the default window, silently)."""
    for client, url, good in (
        (client_for(operator), "/api/v1/stats/outcomes", {"interval": "week"}),
        (anon, "/api/v1/transparency", {"months": "false"}),
        (client_for(officer), "/api/v1/me/outbox", {}),
    ):
        # (the outbox is 404 where pushes go to FCM: the services run)
        assert client.get(url, good).status_code in ((200, 404) if url.endswith("outbox") else (200,)), url
        response = client.get(url, {**good, "form": "2026-01-01T00:00:00Z"})
        assert response.status_code == 400, url
        assert error_code(response) == "invalid"
        assert response.json()["error"]["fields"] == {"form": ["Not a parameter of this endpoint."]}


@pytest.mark.django_db
def test_the_endpoints_that_answer_in_one_piece_refuse_page_parameters(client_for, operator, officer, anon):
    """A page asked of an answer that has no pages was answered as if it had not been asked (200);
    and the public report, which comes as JSON only, took `format=csv` and answered JSON."""
    for client, url, params in (
        (client_for(operator), "/api/v1/stats/outcomes", {"page": "abc"}),
        (client_for(operator), "/api/v1/stats/outcomes", {"page_size": "-1"}),
        (anon, "/api/v1/transparency", {"page": "2"}),
        (client_for(officer), "/api/v1/me/outbox", {"page": "abc"}),
        (client_for(operator), "/api/v1/assists/suggestions", {"page": "2"}),
        (anon, "/api/v1/transparency", {"format": "csv"}),
    ):
        response = client.get(url, params)
        assert response.status_code == 400, (url, params, response.content)
        assert error_code(response) == "invalid"
        assert list(response.json()["error"]["fields"]) == list(params), response.content
    assert anon.get("/api/v1/transparency", {"format": "json"}).status_code == 200


@pytest.mark.django_db
def test_every_get_answers_a_format_it_cannot_give_with_400_not_404(make_user, anon):
    """`?format=xml` was a 404 (DRF's negotiation), as if the object did not exist; an unusable
    query parameter is a 400 naming it, on every endpoint a GET reaches (apps/core/negotiation.py)."""
    from rest_framework.test import APIClient

    world = build_world(make_user)
    credentials = principal_credentials(world)
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = sorted(path for path, item in schema["paths"].items() if "get" in item and path.startswith("/api/v1/"))
    assert "/api/v1/clips/{clip_id}" in paths
    wrong = []
    for path in paths:
        admitted = sorted(POLICY[f"GET {path}"] - {"superuser"})
        url = re.sub(r"\{(\w+)\}", lambda m: world["ids"][m.group(1)], path)
        client = APIClient()
        if admitted and admitted[0] != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=credentials[admitted[0]]()["headers"]["Authorization"])
        response = client.get(url, {"format": "xml"})
        if response.status_code != 400 or "format" not in response.json()["error"].get("fields", {}):
            wrong.append(f"{path} as {admitted[:1]}: {response.status_code} {response.content[:200]!r}")
    assert wrong == []


@pytest.mark.django_db
def test_a_list_takes_the_format_it_answers_in(client_for, operator):
    """`?format=json` is read by every endpoint (the negotiation), a list's page included."""
    client = client_for(operator)
    answered = client.get("/api/v1/devices", {"format": "json", "kind": "bodycam"})
    assert answered.status_code == 200 and answered.json()["count"] == 0
    refused = client.get("/api/v1/devices", {"format": "csv"})
    assert refused.status_code == 400 and list(refused.json()["error"]["fields"]) == ["format"]
