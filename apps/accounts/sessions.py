"""Console sessions under the login policy: only a session opened by the console login (second
factor, lockout, audit) is honoured, and it ends after a spell of inactivity (CJIS 5.5.5)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from apps.core.middleware import InlineAsync

POLICY_KEY = "rtcc_login_policy"
SEEN_KEY = "rtcc_seen"
# The last-seen time is written at most this often (a session write per request costs a query).
SEEN_RESOLUTION_S = 30


def session_login(request: HttpRequest, user) -> None:
    """Opens a session for a person the login policy has just let in."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[POLICY_KEY] = True
    request.session[SEEN_KEY] = int(time.time())


def session_usable(session) -> bool:
    """True for a session opened by the console login and used within the idle timeout."""
    if session.get(POLICY_KEY) is not True:
        return False
    seen = session.get(SEEN_KEY)
    if not isinstance(seen, int):
        return False
    return time.time() - seen <= settings.RTCC_SESSION_IDLE_TIMEOUT.total_seconds()


class SessionPolicyMiddleware(InlineAsync, MiddlewareMixin):
    """Ends any session that did not come through the login policy (the stock admin login,
    for one) or sat idle too long, before any view or DRF sees its user. In async mode a request
    without a session cookie (an API call with a bearer token) skips it on the event loop; one
    with a cookie reads its session in a thread."""

    def request_in_thread(self, request: HttpRequest) -> bool:
        return settings.SESSION_COOKIE_NAME in request.COOKIES

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None  # an empty session: nothing to end
        session = request.session
        if session.get("_auth_user_id") is not None:
            if not session_usable(session):
                logout(request)
            elif time.time() - session[SEEN_KEY] >= SEEN_RESOLUTION_S:
                session[SEEN_KEY] = int(time.time())
        return None
