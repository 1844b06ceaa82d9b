"""Request-level guards for the API: body size limits, and the error envelope for answers
that never reached DRF (unknown URLs, Django's own 400/403/404/405/413/500 pages).

Every middleware in settings.MIDDLEWARE runs natively in async mode under daphne: its
process_request and process_response run on the event loop (they only look at the request and
the headers), instead of Django's default of a hop to a thread for each call, or a whole thread
for a sync-only middleware. A step that may touch the database (saving a modified session,
storing messages in it, serving a static file from disk) still goes to a thread. Under a sync
handler (the test client, a WSGI server) they run as plain sync middleware.
"""

from __future__ import annotations

import json
import logging
import sys

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.template import loader
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware  # type: ignore[import-untyped]

from .bodylimits import limit_for
from .errors import error_response
from .retry import DB_ERRORS


class InlineAsync:
    """Mixed into a MiddlewareMixin class: in async mode its hooks run on the event loop, except
    when `request_in_thread` / `response_in_thread` say the step may block (database, disk)."""

    def request_in_thread(self, request: HttpRequest) -> bool:
        return False

    def response_in_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            if self.request_in_thread(request):
                response = await sync_to_async(process_request, thread_sensitive=True)(request)
            else:
                response = process_request(request)
        response = response or await getattr(self, "get_response")(request)  # noqa: B009 - set by MiddlewareMixin
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if self.response_in_thread(request, response):
                response = await sync_to_async(process_response, thread_sensitive=True)(request, response)
            else:
                response = process_response(request, response)
        return response


def _inline_view_hook(middleware) -> None:
    """Django adapts a sync process_view to async mode with a hop to a thread per request; a
    process_view that only looks at the request runs on the loop instead."""
    if getattr(middleware, "async_mode", False) and hasattr(middleware, "process_view"):
        sync_hook = middleware.process_view

        async def process_view(request, callback, callback_args, callback_kwargs):
            return sync_hook(request, callback, callback_args, callback_kwargs)

        middleware.process_view = process_view


class Security(InlineAsync, SecurityMiddleware):
    pass


class Common(InlineAsync, CommonMiddleware):
    pass


class Csrf(InlineAsync, CsrfViewMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        _inline_view_hook(self)


class Authentication(InlineAsync, AuthenticationMiddleware):
    pass  # request.user is lazy: the session and the user are read where they are used


class XFrameOptions(InlineAsync, XFrameOptionsMiddleware):
    pass


class Sessions(InlineAsync, SessionMiddleware):
    def response_in_thread(self, request, response) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class Messages(InlineAsync, MessageMiddleware):
    def response_in_thread(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and bool(storage.used or storage.added_new)


class StaticFiles(WhiteNoiseMiddleware):
    """WhiteNoise, async-capable: a path that is not a static file costs a dict lookup."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, settings=settings):
        super().__init__(get_response, settings=settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


log = logging.getLogger(__name__)

DB_RETRY_AFTER_S = 2  # a PostgreSQL restart or failover takes seconds

STATUS_CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("not_authenticated", "Authentication credentials were not provided or are not valid."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    406: ("not_acceptable", "The requested representation is not available."),
    413: ("too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Unsupported media type."),
    429: ("too_many_requests", "Too many requests."),
    500: ("server_error", "An internal error occurred; it has been logged."),
    503: ("unavailable", "The service is temporarily unavailable."),
}


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class ApiErrorEnvelopeMiddleware(InlineAsync, MiddlewareMixin):
    """Any 4xx/5xx from /api/ that is not JSON already is rewritten into the envelope."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not is_api(request) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json") and not response.streaming:
            try:
                body = json.loads(response.content or b"{}")
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                return response
        code, message = STATUS_CODES.get(response.status_code, ("error", "The request failed."))
        wrapped = error_response(response.status_code, code, message)
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if response.has_header(header):
                wrapped[header] = response[header]
        return wrapped

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, DB_ERRORS):  # the database is down or failing over: a dependency
            log.warning("database unavailable on %s %s: %s", request.method, request.path, exception)
            return unavailable(request)
        if not is_api(request):
            return None
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, *STATUS_CODES[500])


def unavailable(request: HttpRequest) -> HttpResponse:
    """503 while the database is down: the envelope under /api/, a page elsewhere (the console)."""
    headers = {"Retry-After": str(DB_RETRY_AFTER_S)}
    if is_api(request):
        return error_response(503, *STATUS_CODES[503], headers=headers)
    return HttpResponse(loader.render_to_string("503.html"), status=503, headers=headers)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: what an exception no view caught answers, a middleware's included (a session
    read while the database is down happens before any view). A database error is a dependency
    down, so 503; anything else the 500 page (the API's envelope is written around it later)."""
    if isinstance(sys.exc_info()[1], DB_ERRORS):
        return unavailable(request)
    return HttpResponse(loader.render_to_string("500.html"), status=500)


class RequestSizeLimitMiddleware(InlineAsync, MiddlewareMixin):
    """Refuses oversized bodies with 413 before anything reads them."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        limit = limit_for(request.path)
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return error_response(400, "bad_request", "Content-Length is not a number.")
        if length > limit:
            return error_response(413, "too_large", f"The request body is over the limit of {limit} bytes.")
        return None


class QueryStringGuardMiddleware(InlineAsync, MiddlewareMixin):
    """Two query parameters no API view could use are a 400 before any view runs:
    - one holding a NUL character (PostgreSQL refuses it in text, which used to surface as a 500);
    - one given more than once: every filter takes one value (several, comma-separated, where a
      filter allows them), and the last one used to win silently, so `from=yesterday&from=<a time>`
      passed and `kind=bodycam&kind=phone` listed phones only."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if is_api(request):
            for key, values in request.GET.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    return error_response(
                        400,
                        "invalid_query",
                        f"Query parameter {key.replace(chr(0), '')!r} holds a NUL character.",
                        fields={key.replace("\x00", ""): ["Must not contain a NUL character."]},
                    )
                if len(values) > 1:
                    return error_response(
                        400,
                        "invalid_query",
                        f"Query parameter {key!r} is given {len(values)} times; give it once.",
                        fields={key: ["Given more than once: give it once."]},
                    )
        return None


class SecurityHeadersMiddleware(InlineAsync, MiddlewareMixin):
    """The console's browser-side guards: a Content-Security-Policy on every HTML page (only the
    console's own scripts run; the login page included), and, on a request that came over TLS
    (the trusted proxy's X-Forwarded-Proto: https, apps/core/proxies.py), Secure session and CSRF
    cookies. Plain-HTTP development keeps working: a cookie is marked Secure only over TLS."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        content_type = response.get("Content-Type", "")
        if content_type.startswith("text/html") and "Content-Security-Policy" not in response:
            docs = request.path.startswith(settings.RTCC_CSP_RELAXED_PREFIXES)
            response["Content-Security-Policy"] = settings.RTCC_CSP_DOCS if docs else settings.RTCC_CSP
        return response
