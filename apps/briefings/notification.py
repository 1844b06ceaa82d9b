"""What a briefing looks like on a locked phone: a title and body that say the essentials."""

from __future__ import annotations

from apps.integrations.push import PushMessage

from .media import resigned
from .models import Briefing, Priority

TITLE_MAX = 110
BODY_MAX = 240
LABELS: dict[str, str] = {Priority.URGENT: "URGENT", Priority.EMERGENCY: "EMERGENCY"}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,;") + "…"


def title_of(briefing: Briefing) -> str:
    label = LABELS.get(briefing.priority)
    return _clip(f"{label}: {briefing.title}" if label else briefing.title, TITLE_MAX)


def suspect_line(suspect: dict) -> str:
    """ "ARMED - John Doe: Male, 30s, 6'1\", red hoodie"."""
    parts = [suspect.get("sex"), suspect.get("description"), suspect.get("height"), suspect.get("clothing")]
    text = ", ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    if suspect.get("name"):
        text = f"{suspect['name'].strip()}: {text}" if text else suspect["name"].strip()
    if suspect.get("armed"):
        text = f"ARMED - {text}"
    return text


def vehicle_line(vehicle: dict) -> str:
    """ "Silver 2014 Honda Civic ABC123 (CA) heading north"."""
    parts = [
        vehicle.get("color"),
        str(vehicle["year"]) if vehicle.get("year") else None,
        vehicle.get("make"),
        vehicle.get("model"),
        vehicle.get("plate"),
    ]
    text = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    if vehicle.get("plate_state"):
        text += f" ({vehicle['plate_state'].strip()})"
    if vehicle.get("direction"):
        text += f" heading {vehicle['direction'].strip()}"
    return text


def body_of(briefing: Briefing) -> str:
    lines = [suspect_line(s) for s in briefing.suspects] + [vehicle_line(v) for v in briefing.vehicles]
    lines = [line for line in lines if line]
    if briefing.body:
        lines.append(briefing.body)
    notice = getattr(briefing, "notice", "")
    if notice:  # never clipped away: it comes first and the rest is shortened to fit
        rest = _clip("; ".join(lines), BODY_MAX - len(notice) - 1) if lines else ""
        return f"{notice} {rest}".strip()
    return _clip("; ".join(lines), BODY_MAX) if lines else "Open for details."


def message_for(briefing: Briefing, *, token: str = "") -> PushMessage:
    """The push for one phone; all fields but the token are the same for every recipient."""
    return PushMessage(
        token=token,
        data={"type": "briefing", "briefing_id": str(briefing.pk), "priority": str(briefing.priority)},
        title=title_of(briefing),
        body=body_of(briefing),
        image=resigned(briefing.image_url) if briefing.image_url else None,
        priority="high" if briefing.priority in LABELS else "normal",
        collapse_key=f"briefing-{briefing.pk}",
    )
