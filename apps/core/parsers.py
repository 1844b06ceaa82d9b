"""The API's JSON parser: bounded nesting (Python's json recurses, and ~1,000 levels raise
RecursionError, a 500), no NUL characters (PostgreSQL text cannot hold them), and an object at
the top (`[1]` or `5` sent to an endpoint that takes no body used to pass unread)."""

from __future__ import annotations

import math
import re
from itertools import accumulate

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.throttling import BaseThrottle
from rest_framework.utils import json

MAX_DEPTH = 64
_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false"}
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in this JSON text (brackets inside strings ignored)."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    if not brackets:
        return 0
    return max(accumulate(1 if byte in b"[{" else -1 for byte in brackets))


class JsonBody(dict):
    """An object of a JSON body, as SafeJSONParser gives every one of them (the top one and those
    nested in it): its fields take their own JSON types only (apps/core/fields.py), where a query
    string's or a form's text stands for any type. Nested ones too, so that a serializer a view
    builds from part of a body (an audience, a location) is as strict as the body's own."""


# DRF names a value's Python type in its messages ('Expected a list of items but got type "..."'):
# a JSON client sent an object, not a "JsonBody". (pickle finds the class by __qualname__.)
JsonBody.__name__ = "object"


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if json_depth(raw) > MAX_DEPTH:
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep.")
        if b"\\u0000" in raw or b"\x00" in raw:
            raise ParseError("JSON text holds a NUL character (\\u0000), which no field accepts.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            # What DRF's JSONParser does (NaN and Infinity refused), every object a JsonBody.
            data = json.loads(raw.decode(encoding), parse_constant=json.strict_constant, object_hook=JsonBody)
        except ValueError as exc:  # bad JSON, bad text (UnicodeDecodeError), a number too long
            if "integer string conversion" in str(exc):  # Python's own advice, not the caller's
                raise ParseError("JSON parse error - a number in the body has too many digits.") from None
            raise ParseError(f"JSON parse error - {exc}") from None
        if not isinstance(data, self.top_level):  # every body of the contract is an object
            raise ParseError(f"The JSON body must be an object, not {_JSON_KINDS.get(type(data), 'null')}.")
        return data

    top_level: tuple[type, ...] = (dict,)


class ObjectOrArrayJSONParser(SafeJSONParser):
    """For the one endpoint whose body may be an array of objects (a vendor's batch: the OpenALPR
    agent posts one alpr_group or a list of them)."""

    top_level = (dict, list)


class BodyReadFirst(BaseThrottle):
    """Not a rate limit: DRF's hook that runs after authentication and permissions, for every view.

    A body sent with POST, PUT, PATCH or DELETE is parsed there, before the view runs, so that a
    malformed one is a 400 and one of the wrong media type a 415 on every endpoint, as the contract
    says, and changes nothing. Before, an endpoint that takes no body (revoke, cancel, stop, logout,
    an acknowledgement) never looked at it and did its action whatever was sent. A view that reads
    its body raw (a live segment's bytes) says `raw_body = True`."""

    METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def allow_request(self, request, view) -> bool:
        if request.method in self.METHODS and not getattr(view, "raw_body", False):
            request.data  # noqa: B018 - parsing raises ParseError (400) or UnsupportedMediaType (415)
        return True


def json_number(value: object) -> float | None:
    """A JSON number as a finite float; None for anything else: a bool, text, NaN or an infinity,
    or a whole number too large for a float (10**400 written out digit by digit), never a 500."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
