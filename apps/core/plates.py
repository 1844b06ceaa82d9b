"""Plate text rules (PROTOCOL.md "Hotlists and hits"): normalizing, look-alike folding, wildcards,
and what makes a plate or a state code; for plate readers' reads, hotlist entries and the
vehicles of a briefing alike."""

from __future__ import annotations

import re
import unicodedata

PLATE_MAX = 16
# Characters a camera (or a person) confuses: each folds onto the digit it looks like.
LOOK_ALIKES = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8", "G": "6"})
# Letters and digits of any script are kept (a German "Ö", a Chinese province character): a
# plate is never turned into one the camera did not read by dropping a letter.
_NOT_PLATE = re.compile(r"[\W_]")
_NOT_PATTERN = re.compile(r"[^\w*?]|_")


def _canonical(text: str) -> str:
    """Compatibility forms folded (full-width A, U+FF21, is A) and upper case."""
    return unicodedata.normalize("NFKC", text).upper() if not text.isascii() else text.upper()


def normalize(plate: str) -> str:
    """Upper case, letters and digits only: "abc-1 23" is "ABC123"."""
    return _NOT_PLATE.sub("", _canonical(plate))


def plate_problem(plate: str) -> str | None:
    """Why this is not a plate (None: it is one)."""
    normalized = normalize(plate)
    if not normalized:
        return "A plate needs at least one letter or digit."
    if len(normalized) > PLATE_MAX:
        return f"A plate has at most {PLATE_MAX} letters and digits."
    return None


def state_code(text: str) -> str:
    """A plate's state as stored: trimmed, upper case ("" for none)."""
    return (text or "").strip().upper()


def state_problem(state: str) -> str | None:
    """Why this (state_code) is not a two-letter state code (None: it is one, or none was given)."""
    if state and not (len(state) == 2 and state.isascii() and state.isalpha()):
        return "A two-letter state code."
    return None


# Cyrillic and Greek capitals drawn like Latin ones: a plate typed or exported in the wrong script
# ("CBA777" typed with Cyrillic letters) looks exactly like the read "CBA777", and is similar to
# it once folded.
HOMOGLYPHS = str.maketrans(
    {
        **dict(
            zip(
                "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0423\u0425\u0406\u0408\u0405",
                "ABEKMHOPCTYXIJS",
                strict=True,
            )
        ),
        **dict(
            zip(
                "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
                "ABEZHIKMNOPTYX",
                strict=True,
            )
        ),
        "\u0130": "I",
    }
)
_DIGIT = re.compile(r"\d")


def fold(normalized: str) -> str:
    """The normalized plate with look-alike characters folded (O/Q/D->0, I/L->1, Z->2, S->5, B->8,
    G->6), after Cyrillic and Greek letters drawn like Latin ones and digits of any script (Arabic-
    Indic ones) are taken for the Latin letter and the ASCII digit."""
    if not normalized.isascii():
        normalized = _DIGIT.sub(lambda digit: str(unicodedata.digit(digit.group())), normalized.translate(HOMOGLYPHS))
    return normalized.translate(LOOK_ALIKES)


def normalize_pattern(pattern: str) -> str:
    """A search pattern normalized like a plate, keeping `*` (any run) and `?` (one character)."""
    return _NOT_PATTERN.sub("", _canonical(pattern))


def pattern_to_like(pattern: str) -> str:
    """`AB*12?` -> SQL LIKE `AB%12_` (the pattern holds only letters, digits, * and ?)."""
    return pattern.replace("*", "%").replace("?", "_")


def is_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern
