"""The read batch checked by hand: DRF's nested serializers cost ~0.25 ms a read, more than the
rest of ingest together (bench/alpr_ingest.py). Same rules and field names as ReadBatchIn in
serializers.py (which documents the shape in the OpenAPI schema); errors name `reads.N.field`."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core import plates
from apps.core.errors import InvalidInput
from apps.core.fields import NO_ZONE, OUT_OF_RANGE, in_utc, rfc3339_text
from apps.core.text import text_problem

from . import conf

VEHICLE_LIMITS = {"make": 64, "model": 64, "color": 32, "type": 32}


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _number(value, field: str, low: float, high: float, *, required: bool = False):
    if value is None:
        if required:
            raise _Bad(field, "This field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # a JSON number, as every body's
        raise _Bad(field, "A valid number is required.")
    if value != value or not low <= value <= high:  # NaN, or out of range
        raise _Bad(field, f"Must be between {low:g} and {high:g}.")
    return float(value)


def _text(value, field: str, limit: int, *, required: bool = False, blank: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise _Bad(field, "This field is required." if value is None else "This field may not be blank.")
        return ""
    if not isinstance(value, str):
        raise _Bad(field, "Not a valid string.")
    if len(value) > limit:
        raise _Bad(field, f"Ensure this field has no more than {limit} characters.")
    if problem := text_problem(value):  # as DRF's CharField refuses: stored, it broke every answer naming it
        raise _Bad(field, f"{problem[:1].upper()}{problem[1:]}.")
    if not blank and not value.strip():
        raise _Bad(field, "This field may not be blank.")
    return value


def _plate(value, field: str) -> str:
    value = _text(value, field, 32, required=True, blank=False)
    if problem := plates.plate_problem(value):
        raise _Bad(field, problem)
    return value


def _read(item, now: datetime) -> dict:
    if not isinstance(item, dict):
        raise _Bad("non_field_errors", "Invalid data. Expected a dictionary.")
    read_id = _text(item.get("read_id"), "read_id", 64, required=True, blank=False)
    plate = _plate(item.get("plate"), "plate")
    state = plates.state_code(_text(item.get("plate_state"), "plate_state", 8))
    if problem := plates.state_problem(state):
        raise _Bad("plate_state", problem)
    raw_at = item.get("read_at")
    if raw_at is None:
        raise _Bad("read_at", "This field is required.")
    try:
        read_at = parse_datetime(rfc3339_text(raw_at)) if isinstance(raw_at, str) else None
    except ValueError:
        read_at = None
    if read_at is None:
        raise _Bad("read_at", "Datetime has wrong format: use RFC 3339, e.g. 2026-11-30T15:59:12Z.")
    if read_at.tzinfo is None:  # never guessed: a reader writing local time would be hours off
        raise _Bad("read_at", NO_ZONE)
    utc_at = in_utc(read_at)
    if utc_at is None:
        raise _Bad("read_at", OUT_OF_RANGE)
    if utc_at.year < 2000:
        raise _Bad("read_at", "Is before the year 2000; the reader's clock is wrong.")
    if read_at > now + conf.future_skew():
        raise _Bad("read_at", "read_at is in the future.")
    out: dict = {
        "read_id": read_id,
        "plate": plate,
        "plate_state": state,
        "read_at": read_at,
        "confidence": _number(item.get("confidence"), "confidence", 0, 1),
        "heading": _number(item.get("heading"), "heading", 0, 360),
    }
    location = item.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise _Bad("location", 'Expected {"lat", "lon"}.')
        out["location"] = {
            "lat": _number(location.get("lat"), "location.lat", -90, 90, required=True),
            "lon": _number(location.get("lon"), "location.lon", -180, 180, required=True),
        }
    candidates = item.get("candidates")
    if candidates is not None:
        if not isinstance(candidates, list):
            raise _Bad("candidates", "Expected a list of items.")
        if len(candidates) > 20:
            raise _Bad("candidates", "Ensure this field has no more than 20 elements.")
        out["candidates"] = []
        for i, candidate in enumerate(candidates):
            if not isinstance(candidate, dict):
                raise _Bad(f"candidates.{i}", "Invalid data. Expected a dictionary.")
            out["candidates"].append(
                {
                    "plate": _plate(candidate.get("plate"), f"candidates.{i}.plate"),
                    "confidence": _number(candidate.get("confidence"), f"candidates.{i}.confidence", 0, 1),
                }
            )
    vehicle = item.get("vehicle")
    if vehicle is not None:
        if not isinstance(vehicle, dict):
            raise _Bad("vehicle", "Invalid data. Expected a dictionary.")
        clean: dict = {
            name: _text(vehicle.get(name), f"vehicle.{name}", limit) for name, limit in VEHICLE_LIMITS.items()
        }
        if vehicle.get("year") is not None:
            year = vehicle["year"]
            if isinstance(year, bool) or not isinstance(year, int) or not 1886 <= year <= 2100:
                raise _Bad("vehicle.year", "A year from 1886 to 2100.")
            clean["year"] = year
        out["vehicle"] = clean
    image = item.get("image")
    if image is not None and image != "":
        if not isinstance(image, str):
            raise _Bad("image", "Not a valid string.")
        out["image"] = image
    return out


def read_batch(data) -> list[dict]:
    """`{"reads": [...]}` (1 to 500) -> validated reads, or one 400 naming the bad read."""
    if not isinstance(data, dict):
        raise InvalidInput('Expected {"reads": [...]}.', fields={"non_field_errors": ["Expected an object."]})
    reads = data.get("reads")
    if reads is None:
        raise InvalidInput("reads: This field is required.", fields={"reads": ["This field is required."]})
    if not isinstance(reads, list):
        raise InvalidInput("reads: Expected a list of items.", fields={"reads": ["Expected a list of items."]})
    limit = conf.max_reads_per_batch()
    if not 1 <= len(reads) <= limit:
        message = f"Send 1 to {limit} reads in a batch."
        raise InvalidInput(message, fields={"reads": [message]})
    now = timezone.now()
    out = []
    for index, item in enumerate(reads):
        try:
            out.append(_read(item, now))
        except _Bad as bad:
            name = f"reads.{index}.{bad.field}"
            raise InvalidInput(f"{name}: {bad.message}", fields={name: [bad.message]}) from None
    return out
