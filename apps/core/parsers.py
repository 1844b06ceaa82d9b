"""The API's JSON parser: bounded nesting (Python's json recurses, and ~1,000 levels raise
RecursionError, a 500), and no NUL characters (PostgreSQL text cannot hold them)."""

from __future__ import annotations

import io
import re
from itertools import accumulate

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in this JSON text (brackets inside strings ignored)."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    if not brackets:
        return 0
    return max(accumulate(1 if byte in b"[{" else -1 for byte in brackets))


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if json_depth(raw) > MAX_DEPTH:
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep.")
        if b"\\u0000" in raw or b"\x00" in raw:
            raise ParseError("JSON text holds a NUL character (\\u0000), which no field accepts.")
        return super().parse(io.BytesIO(raw), media_type, parser_context)
