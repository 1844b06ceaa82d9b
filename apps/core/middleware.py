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
