"""Request-level guards for the API: body size limits, and the error envelope for answers
that never reached DRF (unknown URLs, Django's own 400/403/404/405/413/500 pages)."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .errors import error_response

log = logging.getLogger(__name__)

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


class ApiErrorEnvelopeMiddleware:
    """Any 4xx/5xx from /api/ that is not JSON already is rewritten into the envelope."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
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
        if is_api(request):
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(500, *STATUS_CODES[500])
        return None


class RequestSizeLimitMiddleware:
    """Refuses oversized bodies with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.RTCC_MAX_JSON_BODY
        for prefix, size in settings.RTCC_BODY_LIMITS.items():
            if request.path.startswith(prefix):
                limit = size
                break
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return error_response(400, "bad_request", "Content-Length is not a number.")
        if length > limit:
            return error_response(413, "too_large", f"The request body is over the limit of {limit} bytes.")
        return self.get_response(request)


class QueryStringGuardMiddleware:
    """A NUL character in an API query parameter is a 400: no filter can use it (PostgreSQL
    refuses it in text, which used to surface as a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request):
            for key, values in request.GET.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    return error_response(
                        400,
                        "invalid_query",
                        f"Query parameter {key.replace(chr(0), '')!r} holds a NUL character.",
                        fields={key.replace("\x00", ""): ["Must not contain a NUL character."]},
                    )
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """The console's browser-side guards: a Content-Security-Policy on every HTML page (only the
    console's own scripts run; the login page included), and, on a request that came over TLS
    (daphne --proxy-headers and the proxy's X-Forwarded-Proto: https), Secure session and CSRF
    cookies. Plain-HTTP development keeps working: a cookie is marked Secure only over TLS."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        content_type = response.get("Content-Type", "")
        if content_type.startswith("text/html") and "Content-Security-Policy" not in response:
            docs = request.path.startswith(settings.RTCC_CSP_RELAXED_PREFIXES)
            response["Content-Security-Policy"] = settings.RTCC_CSP_DOCS if docs else settings.RTCC_CSP
        return response
