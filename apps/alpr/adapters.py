"""Vendor adapters: a department's existing cameras feed rtcc without new firmware.

Both endpoints authenticate the reader like every plate-reader call (`Authorization: Bearer`
with the enrolled alpr device's token), turn the vendor's JSON into the contract's reads, and
store them with the same validation, deduplication and matching as `POST /api/v1/plate-reads`.
See docs/alpr.md for the mapping of each field.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.services import AuditContext
from apps.core.errors import InvalidInput
from apps.core.parsers import ObjectOrArrayJSONParser, json_number
from apps.devices.permissions import IsPlateReader

from . import services, validation

READ_ID_MAX = 64  # the contract's read_id


def _region_state(region) -> str:
    """`us-ca` (OpenALPR/Plate Recognizer region codes) -> `CA`; other countries: no state."""
    if isinstance(region, dict):
        region = region.get("code")
    if isinstance(region, str) and region.lower().startswith("us-") and len(region) == 5:
        return region[3:].upper()
    return ""


def _best(items, key: str):
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0].get(key) or None
    return None


def _list(value) -> list:
    """A vendor field that should be a list: anything else counts as none (never a 500)."""
    return value if isinstance(value, list) else []


def _read_at(epoch_ms) -> str:
    """The agent's epoch in milliseconds as an RFC 3339 time; one no calendar holds is a 400."""
    try:
        return datetime.fromtimestamp(epoch_ms / 1000.0, tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(
            "epoch_start is not a time (milliseconds since 1970).", fields={"epoch_start": ["Out of range."]}
        ) from None


def _confidence(value, *, percent: bool):
    number = json_number(value)
    if number is None:
        return None
    return min(1.0, max(0.0, number / (100.0 if percent else 1.0)))


def openalpr_group_to_read(group: dict) -> dict:
    """An OpenALPR / Rekor Scout agent `alpr_group` -> one contract read."""
    if not isinstance(group, dict) or group.get("data_type") != "alpr_group":
        raise InvalidInput(
            "Not an OpenALPR alpr_group (data_type must be alpr_group).",
            fields={"data_type": ["Must be alpr_group."]},
        )
    best: dict = group["best_plate"] if isinstance(group.get("best_plate"), dict) else {}
    plate = group.get("best_plate_number") or best.get("plate")
    epoch = group.get("epoch_start")
    if not isinstance(epoch, (int, float)) or isinstance(epoch, bool):
        raise InvalidInput("epoch_start (milliseconds) is required.", fields={"epoch_start": ["Required."]})
    read_id = group.get("best_uuid") or next(iter(_list(group.get("uuids"))), None)
    vehicle: dict = group["vehicle"] if isinstance(group.get("vehicle"), dict) else {}
    read = {
        "read_id": read_id,
        "plate": plate,
        "plate_state": _region_state(group.get("best_region")),
        "confidence": _confidence(group.get("best_confidence", best.get("confidence")), percent=True),
        "read_at": _read_at(epoch),
        "candidates": [
            {"plate": c.get("plate"), "confidence": _confidence(c.get("confidence"), percent=True)}
            for c in (_list(group.get("candidates")) or _list(best.get("candidates")))[:20]
            if isinstance(c, dict) and c.get("plate") and c.get("plate") != plate
        ],
        "vehicle": {
            "make": _best(vehicle.get("make"), "name"),
            "model": _best(vehicle.get("make_model"), "name"),
            "color": _best(vehicle.get("color"), "name"),
            "type": _best(vehicle.get("body_type"), "name"),
        },
    }
    lat, lon = group.get("gps_latitude"), group.get("gps_longitude")
    # the agent sends 0,0 when it has no fix
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and (lat or lon):
        read["location"] = {"lat": lat, "lon": lon}
    if (heading := json_number(group.get("travel_direction"))) is not None:
        read["heading"] = heading % 360
    image = best.get("plate_crop_jpeg") or group.get("vehicle_crop_jpeg")
    if image:
        read["image"] = image
    return read


def _read_id(*parts) -> str:
    """A read's id from what names it (camera, time, index, plate), at most 64 characters. A longer
    one keeps its start and ends in a digest of the whole, so that two reads never share an id: cut
    to 64, every read of a camera with a long id was taken for a duplicate of its first and lost."""
    text = ":".join(str(part) for part in parts)
    if len(text) <= READ_ID_MAX:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{text[: READ_ID_MAX - len(digest) - 1]}:{digest}"


def platerecognizer_to_reads(body: dict) -> list[dict]:
    """A Plate Recognizer Stream webhook (`{"hook": {...}, "data": {...}}`) -> contract reads."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise InvalidInput(
            "Not a Plate Recognizer Stream webhook (data.results missing).", fields={"data.results": ["Required."]}
        )
    timestamp = data.get("timestamp")
    camera = str(data.get("camera_id") or "")
    reads = []
    for index, result in enumerate(data["results"]):
        if not isinstance(result, dict):
            raise InvalidInput("A result is not an object.", fields={f"data.results.{index}": ["Not an object."]})
        plate = result.get("plate")
        vehicle: dict = result["vehicle"] if isinstance(result.get("vehicle"), dict) else {}
        model_make = result.get("model_make")
        reads.append(
            {
                "read_id": _read_id(camera, timestamp, index, plate),
                "plate": plate,
                "plate_state": _region_state(result.get("region")),
                "confidence": _confidence(result.get("score"), percent=False),
                "read_at": timestamp,
                "candidates": [
                    {"plate": c.get("plate"), "confidence": _confidence(c.get("score"), percent=False)}
                    for c in _list(result.get("candidates"))[:20]
                    if isinstance(c, dict) and c.get("plate") and c.get("plate") != plate
                ],
                "vehicle": {
                    "make": _best(model_make, "make"),
                    "model": _best(model_make, "model"),
                    "color": _best(result.get("color"), "color"),
                    "type": vehicle.get("type") if isinstance(vehicle.get("type"), str) else None,
                },
            }
        )
    return reads


def _ingest(request, reads: list[dict]) -> Response:
    accepted, duplicates, hits = services.read_ingest(
        reader=request.user, reads=validation.read_batch({"reads": reads}), context=AuditContext.of(request)
    )
    return Response({"accepted": accepted, "duplicates": duplicates, "hits": [str(h.pk) for h in hits]})


class OpenAlprApi(APIView):
    """`POST /api/v1/plate-reads/openalpr`: the agent's HTTP POST data destination (one
    `alpr_group` per request, or a list of them); `alpr_results` and heartbeats are ignored."""

    permission_classes = [IsPlateReader]
    parser_classes = [ObjectOrArrayJSONParser]

    @extend_schema(request=dict, responses=dict)
    def post(self, request):
        body = request.data
        items = body if isinstance(body, list) else [body]
        groups = [g for g in items if isinstance(g, dict) and g.get("data_type") == "alpr_group"]
        if not groups:
            if all(isinstance(g, dict) and g.get("data_type") in {"alpr_results", "heartbeat"} for g in items):
                return Response({"accepted": 0, "duplicates": 0, "hits": []})
            openalpr_group_to_read(items[0] if items else {})  # raises the 400
        return _ingest(request, [openalpr_group_to_read(g) for g in groups])


class PlateRecognizerApi(APIView):
    """`POST /api/v1/plate-reads/platerecognizer`: Stream's webhook target (JSON format)."""

    permission_classes = [IsPlateReader]

    @extend_schema(request=dict, responses=dict)
    def post(self, request):
        reads = platerecognizer_to_reads(request.data)
        if not reads:
            return Response({"accepted": 0, "duplicates": 0, "hits": []})
        return _ingest(request, reads)
