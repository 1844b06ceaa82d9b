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


def test_the_event_loop_lookup_reads_a_token_not_cached_here_and_refuses_it_at_once_after_a_change(
    settings, operator, it_user
):
    """The fast paths (live playlist, command POST) look a token up from the event loop: from this
    process's cache, else from the database (on the loop itself on PostgreSQL); an unknown, revoked,
    expired or deactivated person's token is refused at once, cached or not."""
    import asyncio
    from datetime import timedelta

    from django.utils import timezone

    from apps.accounts import authentication
    from apps.accounts.authentication import GENERATION_KEY, token_for_bearer_async

    def on_loop(token, *generation):
        return asyncio.run(token_for_bearer_async(token, *generation))

    token, record = services.token_issue(user=operator)
    authentication._cached.clear()
    found = on_loop(token)  # not cached here: read from the database
    assert (found.pk, found.user, found.user.role) == (record.pk, operator, "operator")
    assert on_loop(token).user == operator  # now from the cache
    if settings.ENV.redis_url:  # a caller that read the generation in its own Redis round trip
        from apps.core.redisclients import shared_client

        assert on_loop(token, shared_client(settings.ENV.redis_url).get(GENERATION_KEY)).user == operator
    assert on_loop(token + "x") is None
    assert on_loop("rtd_" + token[4:]) is None  # a device's token is not a person's

    services.token_revoke(token=record)
    assert on_loop(token) is None
    authentication._cached.clear()
    assert on_loop(token) is None

    token, record = services.token_issue(user=operator)
    assert on_loop(token).user == operator
    services.user_update(user=operator, actor=it_user, is_active=False)
    assert on_loop(token) is None

    services.user_update(user=operator, actor=it_user, is_active=True)
    token, record = services.token_issue(user=operator)
    type(record).objects.filter(pk=record.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    authentication._cached.clear()
    assert on_loop(token) is None
