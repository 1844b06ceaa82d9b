"""The command body and Idempotency-Key as the fast path reads them (CommandCreateIn.plain and
idempotency_key_of's quick match) against the serializers that are the source of every answer:
wherever the quick reading answers, it answers what the serializer would, and it answers the
bodies operators send."""

from __future__ import annotations

import io
import json

import pytest

from apps.control.conf import IDEMPOTENCY_KEY_MAX, REASON_MAX
from apps.control.serializers import CommandCreateIn, IdempotencyKeyIn, idempotency_key_of
from apps.core.errors import InvalidInput
from apps.core.parsers import SafeJSONParser

START = "start_recording"

# Bodies operators send: the quick reading must answer these.
COMMON = [
    {"action": START, "reason": "Pursuit on 5th Street"},
    {"action": "stop_recording", "reason": "Scene cleared", "ttl_seconds": 60},
    {"action": START, "reason": "  padded reason  ", "ttl_seconds": 1},
    {"action": START, "reason": "x" * REASON_MAX, "ttl_seconds": 3600},
    {"action": START, "reason": "Officer asks: 10-78, send help!"},
]

# Bodies the serializer refuses, or takes in a way only it knows (it then answers).
OTHERS = [
    {"action": START, "reason": "Pursuit", "ttl_seconds": 0},
    {"action": START, "reason": "Pursuit", "ttl_seconds": 3601},
    {"action": START, "reason": "Pursuit", "ttl_seconds": 60.0},
    {"action": START, "reason": "Pursuit", "ttl_seconds": "60"},
    {"action": START, "reason": "Pursuit", "ttl_seconds": True},
    {"action": START, "reason": "Pursuit", "ttl_seconds": None},
    {"action": START, "reason": ""},
    {"action": START, "reason": "   "},
    {"action": START, "reason": "\u200b\ufeff"},
    {"action": START, "reason": "\u0001"},
    {"action": START, "reason": "line one\nline two"},
    {"action": START, "reason": "\u00e9meute, rue Sainte-Catherine"},
    {"action": START, "reason": "x" * (REASON_MAX + 1)},
    {"action": START, "reason": 5},
    {"action": START, "reason": None},
    {"action": START, "reason": ["a"]},
    {"action": START},
    {"reason": "Pursuit"},
    {"action": "START_RECORDING", "reason": "Pursuit"},
    {"action": "", "reason": "Pursuit"},
    {"action": 1, "reason": "Pursuit"},
    {"action": None, "reason": "Pursuit"},
    {"action": "cancel", "reason": "Pursuit"},
    {"action": START, "reason": "Pursuit", "note": "an extra field"},
    {},
]


def parsed(body: dict):
    return SafeJSONParser().parse(io.BytesIO(json.dumps(body).encode()), "application/json", {})


def serializer_answer(body: dict) -> dict | None:
    data = CommandCreateIn(data=parsed(body))
    return dict(data.validated_data) if data.is_valid() else None


@pytest.mark.parametrize("body", COMMON + OTHERS, ids=repr)
def test_the_quick_reading_answers_what_the_serializer_would(body):
    quick = CommandCreateIn.plain(parsed(body))
    if quick is not None:
        assert quick == serializer_answer(body)
    if body in COMMON:
        assert quick is not None, "an operator's everyday body went the slow way"
        assert quick["reason"] == body["reason"].strip()
        assert quick["ttl_seconds"] == body.get("ttl_seconds", 120)


def test_only_a_parsed_json_body_is_read_quickly():
    # A plain dict (a form, a query) is not a JSON body: its text may stand for any type.
    assert CommandCreateIn.plain({"action": START, "reason": "Pursuit"}) is None
    assert CommandCreateIn.plain(["not", "an", "object"]) is None


@pytest.mark.parametrize(
    "raw",
    [
        "retry-7f3a",
        "  spaced at the ends  ",
        "inner space kept",
        "k" * IDEMPOTENCY_KEY_MAX,
        "k" * (IDEMPOTENCY_KEY_MAX + 1),
        "",
        "   ",
        "tab\tinside",
        "caf\u00e9",
        "~!@#$%^&*()",
    ],
)
def test_an_idempotency_key_is_read_as_the_serializer_reads_it(raw):
    data = IdempotencyKeyIn(data={"key": raw.strip()})
    expected = data.validated_data.get("key") if data.is_valid() else None
    if expected:
        assert idempotency_key_of(raw) == expected
    else:
        with pytest.raises(InvalidInput):
            idempotency_key_of(raw)
