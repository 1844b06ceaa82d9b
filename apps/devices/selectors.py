"""Reads about devices: who had a device when, and devices with their live presence merged in."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from apps.core.errors import NotFound

from .models import Assignment, Device, DeviceKind


def assignee_at(device: Device | str, when: datetime):
    """The officer (User) the device was assigned to at `when`, or None.

    From the assignment history, so a clip's officer is the assignee at recording time even if the
    camera was reassigned since. An assignment covers [started_at, ended_at).
    """
    device_id = device.pk if isinstance(device, Device) else device
    assignment = (
        Assignment.objects.select_related("officer")
        .filter(device_id=device_id, started_at__lte=when)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=when))
        .order_by("-started_at")
        .first()
    )
    return assignment.officer if assignment else None


def phones_held(*, officer=None, phone: Device | None = None) -> list[tuple[Device, datetime | None, datetime | None]]:
    """(phone, from, until) for each time a phone was held: every phone the officer held, or the
    phone's holding by its present holder; None for no bound (a phone given to its officer with
    no assignment recorded, or a holding still open). What a phone was sent outside the holding
    went to someone else."""
    if phone is not None:
        history = list(Assignment.objects.filter(device=phone).order_by("-started_at")[:1])
        if not history:
            return [(phone, None, None)] if phone.officer_id else []
        last = history[0]
        return [(phone, last.started_at, None)] if last.ended_at is None else [(phone, last.ended_at, None)]
    held: list[tuple[Device, datetime | None, datetime | None]] = [
        (a.device, a.started_at, a.ended_at)
        for a in Assignment.objects.filter(officer=officer, device__kind=DeviceKind.PHONE).select_related("device")
    ]
    recorded = {device.pk for device, _, _ in held}
    held += [
        (device, None, None)
        for device in Device.objects.filter(officer=officer, kind=DeviceKind.PHONE).exclude(pk__in=recorded)
    ]
    return held


def assignment_history(*, device: Device) -> QuerySet[Assignment]:
    """Every assignment of the device, newest first."""
    return Assignment.objects.filter(device=device).select_related("officer", "assigned_by", "ended_by")


def visible_devices(*, user) -> QuerySet[Device]:
    """The devices this person may see: IT and operators all, an officer only own."""
    devices = Device.objects.all()
    if user.has_role("it", "operator"):
        return devices
    if user.has_role("officer"):
        return devices.filter(officer=user)
    return devices.none()


def device_list(*, user, filters: dict) -> QuerySet[Device] | list[Device]:
    """Visible devices matching the filters. Filtering on `online` needs the live view of every
    candidate, so that case returns a list already merged; otherwise a queryset, whose page the
    caller merges with `with_presence` (one Redis round trip per page, not per fleet)."""
    from . import presence

    devices = visible_devices(user=user).order_by("kind", "serial")
    if filters.get("kind"):
        devices = devices.filter(kind=filters["kind"])
    if filters.get("serial"):
        devices = devices.filter(serial=filters["serial"])
    if "officer" in filters and filters["officer"] is not None:
        devices = devices.filter(officer_id=filters["officer"])
    if filters.get("online") is None:
        return devices
    return [device for device in presence.merge_live(list(devices)) if device.online == filters["online"]]


def with_presence(devices) -> list[Device]:
    """The devices with their live presence merged over the stored row (idempotent)."""
    from . import presence

    return presence.merge_live(list(devices))


def device_get(*, user, device_id) -> Device:
    """One visible device with live presence merged; 404 for unknown and for not visible."""
    from . import presence

    device = visible_devices(user=user).filter(pk=device_id).first()
    if device is None:
        raise NotFound("No such device.")
    presence.merge_live([device])
    return device


def device_self(*, device: Device) -> Device:
    """The calling device, with live presence merged."""
    from . import presence

    presence.merge_live([device])
    return device
