"""Domain errors and the one place that turns every API error into the contract's envelope.

Envelope (PROTOCOL.md "Errors"):
    {"error": {"code": "snake_case", "message": "human sentence", "fields": {"name": ["..."]}}}
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback


class ApplicationError(Exception):
    """A domain error with a stable code; services raise it, the API layer renders it."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict | None = None,
        status: int | None = None,
        headers: dict | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}  # more keys of the envelope's `error`, next to `code` and `message`
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields
        self.headers = headers or {}


class InvalidInput(ApplicationError):
    status, code = 400, "invalid"


class Unauthorized(ApplicationError):
    status, code = 401, "not_authenticated"


class Forbidden(ApplicationError):
    status, code = 403, "forbidden"


class NotFound(ApplicationError):
    status, code = 404, "not_found"


class Conflict(ApplicationError):
    status, code = 409, "conflict"


class TooLarge(ApplicationError):
    status, code = 413, "too_large"


class UnsupportedMedia(ApplicationError):
    status, code = 415, "unsupported_media_type"


class TooManyRequests(ApplicationError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, **kwargs) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))}, **kwargs)


def _writable(text: str) -> str:
    """Text a UTF-8 answer can carry. A message may echo what was sent (`"\\ud800" is not a valid
    choice.`, an unknown field's name), and a lone surrogate cannot be encoded: the renderer
    raised, and bad input was a 500. It is written as its escape instead."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def envelope(code: str, message: str, fields: dict | None = None) -> dict:
    body: dict = {"code": code, "message": _writable(message)}
    if fields:
        body["fields"] = {
            _writable(str(name)): [_writable(str(m)) for m in messages] if isinstance(messages, list) else messages
            for name, messages in fields.items()
        }
    return {"error": body}


def error_body(exc: ApplicationError) -> dict:
    """A domain error's envelope, with its extra keys beside `code` and `message`."""
    body = envelope(exc.code, exc.message, exc.fields)
    body["error"].update(exc.extra)
    return body


def application_error_response(exc: ApplicationError) -> JsonResponse:
    """A domain error raised outside DRF (a plain Django view), rendered as DRF's handler does."""
    response = JsonResponse(error_body(exc), status=exc.status)
    for key, value in exc.headers.items():
        response[key] = value
    return response


def error_response(
    status: int, code: str, message: str, fields: dict | None = None, headers: dict | None = None
) -> JsonResponse:
    response = JsonResponse(envelope(code, message, fields), status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def flatten_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"suspects.0.description": ["This field is required."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" and not prefix else f"{prefix}{key}"
            out.update(flatten_fields(value, f"{name}."))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix.rstrip(".") or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(flatten_fields(item, f"{prefix}{index}."))
    else:
        out[prefix.rstrip(".") or "non_field_errors"] = [str(detail)]
    return out


def _first_message(fields: dict[str, list[str]]) -> str:
    for name, messages in fields.items():
        if messages:
            return messages[0] if name == "non_field_errors" else f"{name}: {messages[0]}"
    return "The request is not valid."


DRF_CODES = {
    drf.ParseError: "malformed_request",
    drf.AuthenticationFailed: "not_authenticated",
    drf.NotAuthenticated: "not_authenticated",
    drf.PermissionDenied: "forbidden",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "too_many_requests",
}


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error leaves in the envelope, and rolls back."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc), status=exc.status, headers=exc.headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if not isinstance(exc, drf.APIException):
        return None  # a real bug: Django answers 500, the middleware wraps it
    set_rollback()
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(max(1, int(wait)))
    if isinstance(exc, drf.ValidationError):
        fields = flatten_fields(exc.detail)
        return Response(envelope("invalid", _first_message(fields), fields), status=400, headers=headers)
    code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), None)
    if code is None:
        code = exc.default_code if isinstance(exc.default_code, str) else "error"
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if isinstance(exc, drf.NotAuthenticated):
        request = (context or {}).get("request")
        given = request is not None and request.META.get("HTTP_AUTHORIZATION")
        # An Authorization header no scheme took (a token of no known kind): not "not provided"
        message = "The credentials given are not valid." if given else "Authentication credentials were not provided."
    return Response(envelope(code, str(message)), status=exc.status_code, headers=headers)
