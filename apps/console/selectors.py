"""Small directories the pages embed (names for ids), read once per page view."""

from __future__ import annotations

from django.apps import apps as django_apps

from apps.accounts.models import Role, User
from apps.briefings.models import Briefing
from apps.control.models import Command
from apps.devices.models import Device
from apps.footage.models import Clip, Trigger
from apps.leads.models import Lead
from apps.live.models import LiveSession

MAX_DIRECTORY = 5000


def officer_directory() -> list[dict]:
    """Every active officer: the pages show names and badges where the API gives ids."""
    rows = (
        User.objects.filter(role=Role.OFFICER, is_active=True)
        .order_by("full_name", "username")
        .values("id", "username", "full_name", "badge_number")[:MAX_DIRECTORY]
    )
    return [{**row, "id": str(row["id"])} for row in rows]


def operator_directory() -> list[dict]:
    """Every active operator: the fleet wall names who sent a command (the API gives an id)."""
    rows = (
        User.objects.filter(role=Role.OPERATOR, is_active=True)
        .order_by("full_name", "username")
        .values("id", "username", "full_name")[:MAX_DIRECTORY]
    )
    return [{**row, "id": str(row["id"])} for row in rows]


def last_commands() -> list[dict]:
    """Each device's newest command, as the API gives it: the fleet wall's "Last command" column
    on a page opened afresh (the live updates carry only what happens after)."""
    from django.db.models import OuterRef, Subquery

    from apps.control.serializers import command_data

    # One look-up per device on the (device, created_at) index, however many commands are kept.
    newest = Command.objects.filter(device=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
    ids = Device.objects.annotate(last=Subquery(newest)).values_list("last", flat=True)[:MAX_DIRECTORY]
    return [command_data(command) for command in Command.objects.filter(pk__in=[i for i in ids if i is not None])]


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


def clip_origin(clip_id) -> dict | None:
    """How a remotely started clip's recording began, for the clerk's clip page: the command the
    camera named (who, when, why), or `matched` false when the camera named no command sent to
    it (an upload is never refused for that: the bytes are the evidence). None for a clip
    started on the camera itself, or no such clip."""
    clip = Clip.objects.filter(pk=clip_id).values("device_id", "trigger", "command_id").first()
    if clip is None or clip["trigger"] != Trigger.REMOTE or clip["command_id"] is None:
        return None
    command = (
        Command.objects.select_related("requested_by")
        .filter(pk=clip["command_id"], device_id=clip["device_id"])
        .first()
    )
    if command is None:
        return {"command_id": str(clip["command_id"]), "matched": False}
    return {
        "command_id": str(command.pk),
        "matched": True,
        "action": command.action,
        "reason": command.reason,
        "requested_by": str(command.requested_by),
        "created_at": command.created_at.isoformat(),
        "state": command.state,
    }


def lead_exists(lead_id) -> bool:
    """Whether the lead page's lead exists (operators and clerks see every lead)."""
    return Lead.objects.filter(pk=lead_id).exists()


def live_session_exists(live_id) -> bool:
    """Whether the live page's session exists, open or ended (operators see every session)."""
    return LiveSession.objects.filter(pk=live_id).exists()


def briefing_exists(briefing_id) -> bool:
    """Whether the briefing board's briefing exists (operators see every briefing)."""
    return Briefing.objects.filter(pk=briefing_id).exists()


def clip_exists(clip_id) -> bool:
    """Whether the clip page's clip exists, in any state (clerks see every clip)."""
    return Clip.objects.filter(pk=clip_id).exists()
