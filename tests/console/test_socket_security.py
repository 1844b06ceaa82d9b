"""The console socket: a person deactivated (or given a new password or role) is cut off at once,
on every process, and a logout closes the sockets opened with that token or session; a session
socket needs an Origin matching the page's scheme, host and port."""

from __future__ import annotations

import time

import httpx
import pytest
from channels.db import database_sync_to_async
from django.test import Client

from apps.accounts.services import token_issue, user_update
from tests.control.conftest import SOCKET_WAIT, bearer, open_socket, run
from tests.helpers import console_login, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> bytes:
    client = Client()
    console_login(client, user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_console(headers):
    return await open_socket("/ws/console/", headers)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"host", b"localhost:8000")], None),  # no Origin: not a browser
        ([(b"host", b"localhost:8000"), (b"origin", b"http://localhost:8000")], None),
        ([(b"host", b"localhost:8000"), (b"origin", b"https://localhost:8000")], 4401),  # scheme
        ([(b"host", b"localhost:8000"), (b"origin", b"http://localhost:9999")], 4401),  # port
        ([(b"host", b"localhost:8000"), (b"origin", b"http://localhost")], 4401),  # port 80
        ([(b"host", b"localhost"), (b"origin", b"http://localhost:80")], None),  # default port spelled out
        ([(b"host", b"127.0.0.1"), (b"origin", b"http://localhost")], 4401),  # another host
        # Behind the TLS proxy: it says so with X-Forwarded-Proto (a browser cannot set it on a socket).
        ([(b"host", b"127.0.0.1"), (b"x-forwarded-proto", b"https"), (b"origin", b"https://127.0.0.1")], None),
        ([(b"host", b"127.0.0.1"), (b"x-forwarded-proto", b"https"), (b"origin", b"http://127.0.0.1")], 4401),
        ([(b"origin", b"http://localhost:8000")], 4401),  # no Host to compare with
    ],
)
def test_session_socket_origin_must_match_scheme_host_and_port(operator, headers, expected):
    cookie = (b"cookie", session_cookie(operator))

    async def scenario():
        communicator, code = await open_console([cookie, *headers])
        await communicator.disconnect()
        return code

    assert run(scenario) == expected


def test_a_session_that_skipped_the_login_policy_cannot_open_the_socket(operator):
    client = Client()
    client.force_login(operator)  # Django's own login, not rtcc's
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    async def scenario():
        communicator, code = await open_console([cookie])
        await communicator.disconnect()
        return code

    assert run(scenario) == 4401


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"role": "officer"}, {"password": "a-new-long-passphrase-42"}]
)
def test_deactivation_a_new_password_or_a_role_change_closes_open_console_sockets(operator, it_user, change):
    token, _ = token_issue(user=operator)

    async def scenario():
        by_token, code = await open_console(bearer(token))
        assert code is None
        by_session, code = await open_console([(b"cookie", session_cookie_async_safe)])
        assert code is None
        await database_sync_to_async(user_update)(user=operator, actor=it_user, **change)
        closed = []
        for communicator in (by_token, by_session):
            output = await communicator.receive_output(timeout=SOCKET_WAIT)
            closed.append((output["type"], output.get("code")))
            await communicator.disconnect()
        return closed

    session_cookie_async_safe = session_cookie(operator)
    code = 4403 if "role" in change else 4401  # another role: signed in, no longer allowed
    assert run(scenario) == [("websocket.close", code), ("websocket.close", code)]


def test_a_logout_closes_the_sockets_opened_with_that_token_or_session_only(operator):
    token, _ = token_issue(user=operator)
    other_token, _ = token_issue(user=operator)  # the same person on another screen
    browser = Client()
    console_login(browser, operator)
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())

    async def scenario():
        by_token, code = await open_console(bearer(token))
        assert code is None
        by_other, code = await open_console(bearer(other_token))
        assert code is None
        by_session, code = await open_console([cookie])
        assert code is None
        logout = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = await database_sync_to_async(logout.post)("/api/v1/auth/logout", content_type="application/json")
        assert response.status_code == 204
        output = await by_token.receive_output(timeout=SOCKET_WAIT)
        assert (output["type"], output.get("code")) == ("websocket.close", 4401)
        assert await by_session.receive_nothing(0.3)  # another credential: still open
        response = await database_sync_to_async(browser.post)("/logout/")  # the console's sign-out
        assert response.status_code == 302
        output = await by_session.receive_output(timeout=SOCKET_WAIT)
        assert (output["type"], output.get("code")) == ("websocket.close", 4401)
        assert await by_other.receive_nothing(0.3)
        for communicator in (by_token, by_other, by_session):
            await communicator.disconnect()

    run(scenario)


def test_deactivation_on_one_process_closes_the_socket_on_the_other(live_server_pair, operator, it_user):
    server_a, server_b = live_server_pair
    token, _ = token_issue(user=operator)
    it_token, _ = token_issue(user=it_user)
    with ws_connect(f"{server_a.ws_url}/ws/console/", token=token) as console:
        time.sleep(0.3)  # joined its groups
        response = httpx.patch(
            f"{server_b.url}/api/v1/users/{operator.pk}",
            json={"is_active": False},
            headers={"Authorization": f"Bearer {it_token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + 10
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() < deadline:
                console.recv(timeout=deadline - time.monotonic())
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
