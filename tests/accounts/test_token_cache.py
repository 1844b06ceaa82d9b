"""Bearer tokens are served from a per-process cache; a change to the person or the token is
seen at once anyway, in this process and in another one (the generation counter in Redis)."""

from __future__ import annotations

import httpx
import pytest

from apps.accounts import services
from tests.control.conftest import create_device, post_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_token_used_a_moment_ago_is_refused_at_once_after_logout(client_for, operator):
    client = client_for(operator)
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me").status_code == 200  # the second one from the cache
    assert client.post("/api/v1/auth/logout").status_code == 204
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_role_change_takes_a_cached_operator_off_commands_at_once(client_for, operator, it_user):
    client = client_for(operator)
    camera = create_device(kind="bodycam")
    assert post_command(client, camera.id).status_code == 202
    services.user_update(user=operator, actor=it_user, role="officer")
    response = post_command(client, camera.id)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_deactivating_a_person_here_refuses_their_cached_token_at_once_in_another_process(
    redis_url, live_server_process, operator, it_user
):
    token, _ = services.token_issue(user=operator)
    url = f"{live_server_process.url}/api/v1/me"
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # the web process has it cached now
        assert httpx.get(url, headers=headers, timeout=10).status_code == 200
    services.user_update(user=operator, actor=it_user, is_active=False)
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_logout_here_refuses_the_cached_token_at_once_in_another_process(redis_url, live_server_process, operator):
    token, record = services.token_issue(user=operator)
    url = f"{live_server_process.url}/api/v1/me"
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        assert httpx.get(url, headers=headers, timeout=10).status_code == 200
    services.token_revoke(token=record)
    assert httpx.get(url, headers=headers, timeout=10).status_code == 401


def test_the_event_loop_lookup_serves_only_a_token_cached_here_and_still_valid(redis_url, operator):
    """The live playlist's fast path asks the cache from the event loop, with no thread: it gets
    a token only once this process has read it from the database, and never after a change."""
    import asyncio

    from apps.accounts.authentication import cached_token_for_bearer, token_for_bearer

    def on_loop(token):
        return asyncio.run(cached_token_for_bearer(token))

    token, record = services.token_issue(user=operator)
    assert on_loop(token) is None  # not read here yet: the caller asks the database
    assert token_for_bearer(token).user == operator
    assert on_loop(token).user == operator
    assert on_loop(token + "x") is None
    services.token_revoke(token=record)
    assert on_loop(token) is None
    assert token_for_bearer(token) is None
