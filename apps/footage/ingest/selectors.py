"""Reads of footage ingest: a device's own clips and their upload progress."""

from __future__ import annotations

from apps.core.errors import NotFound
from apps.devices.models import Device
from apps.integrations.storage import NoSuchUploadError

from ..models import Clip, ClipState
from .services import COMPLETED, stored_parts


def clip_for_device(*, device: Device, clip_id) -> Clip:
    """The clip, if this device declared it; 404 otherwise (another device's clip is not its business)."""
    clip = Clip.objects.select_related("category", "device").filter(pk=clip_id, device=device).first()
    if clip is None:
        raise NotFound("No such clip.")
    return clip


def clip_upload_status(*, clip: Clip) -> dict:
    """{"state", "received", "missing"}: while uploading, from the store's own list of parts."""
    every = list(range(1, clip.part_count + 1))
    if clip.state == ClipState.UPLOADING:
        try:
            parts, missing = stored_parts(clip)
        except NoSuchUploadError:
            clip.refresh_from_db()
            return (
                clip_upload_status(clip=clip)
                if clip.state != ClipState.UPLOADING
                else {"state": clip.state, "received": [], "missing": every}
            )
        return {"state": clip.state, "received": [p.number for p in parts], "missing": missing}
    if clip.state in COMPLETED:
        return {"state": clip.state, "received": every, "missing": []}
    return {"state": clip.state, "received": [], "missing": []}
