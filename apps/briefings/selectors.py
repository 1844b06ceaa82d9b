"""Reads of the briefings app: what each person may see, and audience selection."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.core.errors import InvalidInput, NotFound
from apps.core.geo import distance_m
from apps.devices import presence
from apps.devices.models import Assignment, Device, DeviceKind

from . import conf
from .models import Briefing, Delivery, Incident, Media

log = logging.getLogger(__name__)


def incidents_for(*, user: User) -> QuerySet[Incident]:
    incidents = Incident.objects.prefetch_related("assignments")
    if user.effective_role == Role.OPERATOR:
        return incidents
    return incidents.filter(assignments__officer=user)


def incident_get(*, user: User, incident_id) -> Incident:
    incident = incidents_for(user=user).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound("No such incident.")
    return incident


def media_get(*, media_id, user=None) -> Media:
    """A photo, for operators; for an officer (or the officer's phone) only a photo in a
    briefing sent to them (404 otherwise, as for one that does not exist)."""
    media = Media.objects.filter(pk=media_id).first()
    if media is None or (user is not None and not media_visible(media=media, user=user)):
        raise NotFound("No such media.")
    return media


def media_visible(*, media: Media, user) -> bool:
    if not isinstance(user, Device) and user.effective_role == Role.OPERATOR:
        return True
    key = str(media.pk)
    return briefings_for(user=user).filter(Q(suspects__icontains=key) | Q(vehicles__icontains=key)).exists()


# Audience ------------------------------------------------------------------------------------


def _carried(*kinds: DeviceKind) -> QuerySet[Device]:
    """Devices of these kinds an active officer carries: assigned to the officer, not revoked."""
    return Device.objects.filter(
        kind__in=kinds,
        revoked_at__isnull=True,
        officer__isnull=False,
        officer__is_active=True,
        officer__role=Role.OFFICER,
    )


def _phones() -> QuerySet[Device]:
    """Phones that can be reached: enrolled to an active officer and not revoked."""
    return _carried(DeviceKind.PHONE)


def officers_near(*, lat: float, lon: float, radius_m: float, now: datetime | None = None) -> list:
    """Officers one of whose devices (phone or body-worn camera) last reported a location within
    radius_m of the point, recently, since the officer was given it: the officer is where the
    camera on the chest is, whether or not the phone reports where it is. The briefing still goes
    to the officer's phone.

    The live presence copy (apps.devices.presence) is merged over the stored row, so a device
    that moved since its last write-through counts where it is now. Stale locations (older
    than conf.location_freshness()) are left out, wherever they were.
    """
    cutoff = (now or timezone.now()) - conf.location_freshness()
    # Since when its officer has held it: a place it reported before went with its former holder.
    held_since = (
        Assignment.objects.filter(device=OuterRef("pk"), ended_at__isnull=True)
        .order_by("-started_at")
        .values("started_at")[:1]
    )
    devices = list(
        _carried(DeviceKind.PHONE, DeviceKind.BODYCAM)
        .annotate(held_since=Subquery(held_since))
        .only(
            "id",
            "officer_id",
            "lat",
            "lon",
            "location_at",
            "last_seen",
            "online",
            "revoked_at",
            "recording",
            "battery_pct",
            "storage_free_mb",
            "accuracy_m",
        )
    )
    try:
        devices = presence.merge_live(devices)
    except Exception:  # the live copy is an optimisation; the stored columns are enough
        log.warning("near audience: live presence unavailable, using stored locations", exc_info=True)
    officers = []
    for device in devices:
        if device.lat is None or device.lon is None or device.location_at is None or device.location_at < cutoff:
            continue
        if device.held_since is not None and device.location_at < device.held_since:
            continue  # reported while someone else had it
        if distance_m(lat, lon, device.lat, device.lon) <= radius_m and device.officer_id not in officers:
            officers.append(device.officer_id)
    return officers


def audience_officers(*, audience: dict, incident: Incident | None) -> list:
    """The officer ids an audience names (validated by the input serializer), in a stable order."""
    if "officers" in audience:
        wanted = list(dict.fromkeys(str(i) for i in audience["officers"]))
        found = set(
            map(str, User.objects.filter(pk__in=wanted, role=Role.OFFICER, is_active=True).values_list("pk", flat=True))
        )
        unknown = [i for i in wanted if i not in found]
        if unknown:
            raise InvalidInput(
                f"Not active officers: {', '.join(unknown)}.",
                fields={"audience.officers": [f"Not an active officer: {i}." for i in unknown]},
            )
        return [User._meta.pk.to_python(i) for i in wanted]
    if "incident" in audience:
        if incident is None:
            raise InvalidInput(
                "An incident audience needs the briefing's incident.",
                fields={"incident": ["Required when the audience is the incident's officers."]},
            )
        return list(
            incident.assignments.filter(officer__is_active=True, officer__role=Role.OFFICER)
            .order_by("assigned_at")
            .values_list("officer_id", flat=True)
        )
    near = audience["near"]
    return officers_near(lat=near["lat"], lon=near["lon"], radius_m=near["radius_m"])


def officer_phones(*, officer_ids: list) -> dict:
    """{officer_id: [(device_id, push_token or None), ...]} for the reachable phones of these officers."""
    phones: dict = defaultdict(list)
    wanted = set(officer_ids)
    rows = _phones()
    if len(wanted) <= 1000:  # else one scan of the reachable phones beats a huge IN list
        rows = rows.filter(officer_id__in=wanted)
    for officer_id, device_id, token in rows.order_by("serial").values_list("officer_id", "id", "push_token"):
        if officer_id in wanted:
            phones[officer_id].append((device_id, token))
    return phones


def audience_preview(*, audience: dict, incident: Incident | None) -> dict:
    officers = audience_officers(audience=audience, incident=incident)
    phones = officer_phones(officer_ids=officers)
    reachable = sum(1 for o in officers for _, token in phones.get(o, []) if token)
    without = sum(1 for o in officers if not any(token for _, token in phones.get(o, [])))
    return {
        "recipients": len(officers),
        "phones": reachable,
        "officers_without_phone": without,
        "officers": [str(o) for o in officers],
    }


# Briefings and deliveries --------------------------------------------------------------------


def briefings_for(*, user) -> QuerySet[Briefing]:
    """Operators see every briefing; an officer (or the officer's phone) those sent to them."""
    briefings = Briefing.objects.all()
    if isinstance(user, Device):
        return (
            briefings.filter(deliveries__officer_id=user.officer_id).distinct() if user.officer_id else briefings.none()
        )
    if user.effective_role == Role.OPERATOR:
        return briefings
    return briefings.filter(deliveries__officer=user).distinct()


def briefing_get(*, user, briefing_id) -> Briefing:
    briefing = briefings_for(user=user).filter(pk=briefing_id).first()
    if briefing is None:
        raise NotFound("No such briefing.")
    return briefing


def briefing_counts(*, briefing: Briefing) -> dict[str, int]:
    """{"queued": n, "sent": n, ...} over the briefing's deliveries (every state present)."""
    return briefings_counts(briefing_ids=[briefing.pk])[briefing.pk]


def briefings_counts(*, briefing_ids: list) -> dict:
    """{briefing_id: briefing_counts} for many briefings (a page of the list), in one query."""
    from .models import DeliveryState

    out: dict = {briefing_id: dict.fromkeys(DeliveryState.values, 0) for briefing_id in briefing_ids}
    rows = (
        Delivery.objects.filter(briefing_id__in=briefing_ids)
        .values_list("briefing_id", "state")
        .annotate(n=Count("id"))
        .values_list("briefing_id", "state", "n")
    )
    for briefing_id, state, n in rows:
        out[briefing_id][state] = n
    return out


def deliveries_for(*, user, briefing: Briefing) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(briefing=briefing).order_by("created_at", "id")
    if isinstance(user, Device):
        return deliveries.filter(officer_id=user.officer_id)
    if user.effective_role == Role.OPERATOR:
        return deliveries
    return deliveries.filter(officer=user)


def my_briefings(*, user) -> QuerySet[Briefing]:
    """Newest first; the recipient's own delivery state is annotated by the API layer."""
    return briefings_for(user=user).order_by("-created_at")


def my_deliveries(*, officer_id, briefing_ids: list) -> dict:
    """{briefing_id: {"state", "acknowledged_at"}} summarising the officer's rows per briefing."""
    out: dict = {}
    rows = Delivery.objects.filter(officer_id=officer_id, briefing_id__in=briefing_ids).values_list(
        "briefing_id", "state", "acknowledged_at"
    )
    rank = {"acknowledged": 4, "sent": 3, "queued": 2, "unregistered": 1, "failed": 0}
    for briefing_id, state, acknowledged_at in rows:
        best = out.get(briefing_id)
        if best is None or rank[state] > rank[best["state"]]:
            out[briefing_id] = {"state": state, "acknowledged_at": acknowledged_at}
    return out


def deliveries_due(*, limit: int, now: datetime | None = None) -> list:
    """Queued deliveries whose retry time (or lost first send's lease) has come, oldest first."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(state="queued", next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )


def pending_count() -> int:
    return Delivery.objects.filter(Q(state="queued")).count()
