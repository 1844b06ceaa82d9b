"""What stored text may not hold, for text that reaches the database without a serializer (a
device's frames): the API's own fields refuse the same (SafeJSONParser refuses NUL, DRF's CharField
lone surrogates)."""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why PostgreSQL (or UTF-8) cannot store this text, or None. NUL: PostgreSQL's text refuses it.
    A lone surrogate (JSON's "\\ud800" escape): no UTF-8 encoding exists for it."""
    if "\x00" in value:
        return "must not contain a NUL character (\\u0000)"
    if (found := _SURROGATE.search(value)) is not None:
        return f"must not contain surrogate characters (U+{ord(found.group()):04X})"
    return None
