"""Small directories the pages embed (names for ids), read once per page view."""

from __future__ import annotations

from django.apps import apps as django_apps

from apps.accounts.models import Role, User
from apps.devices.models import Device

MAX_DIRECTORY = 5000


def officer_directory() -> list[dict]:
    """Every active officer: the pages show names and badges where the API gives ids."""
    rows = (
        User.objects.filter(role=Role.OFFICER, is_active=True)
        .order_by("full_name", "username")
        .values("id", "username", "full_name", "badge_number")[:MAX_DIRECTORY]
    )
    return [{**row, "id": str(row["id"])} for row in rows]


def device_directory() -> list[dict]:
    rows = Device.objects.order_by("kind", "serial").values("id", "kind", "serial", "label")[:MAX_DIRECTORY]
    return [{**row, "id": str(row["id"])} for row in rows]


def incident_directory() -> list[dict]:
    """Recent incidents with their scene, newest first (empty until the briefings app has them)."""
    try:
        incident_model = django_apps.get_model("briefings", "Incident")
    except LookupError:
        return []
    fields = {f.name for f in incident_model._meta.get_fields()}
    order = "-created_at" if "created_at" in fields else "-pk"
    out = []
    for incident in incident_model.objects.order_by(order)[:500]:
        out.append(
            {
                "id": str(incident.pk),
                "title": getattr(incident, "title", ""),
                "case_number": getattr(incident, "case_number", "") or "",
                "lat": getattr(incident, "lat", None),
                "lon": getattr(incident, "lon", None),
                "radius_m": getattr(incident, "radius_m", None),
            }
        )
    return out
