"""Footage's rules for the disk backend's byte URLs (apps.integrations.storage_views) over clip
objects: parts only while the clip is uploading (each one news of its upload, for the stale-upload
sweep), bytes only while it is available (its SHA-256 as the ETag), and every download from the
first byte in the clip's custody (records' service)."""

from __future__ import annotations

from apps.accounts.models import User
from apps.audit.context import AuditContext
from apps.core.errors import ApplicationError, NotFound

from .grants import grant_holds
from .ingest.services import clip_upload_seen, require_uploading
from .models import Clip, ClipState
from .records.services import clip_downloaded

KEY_PREFIX = "clips/"


class ClipObjects:
    def check_upload(self, *, key: str, upload_id: str) -> None:
        clip = Clip.objects.filter(storage_key=key, upload_id=upload_id).only("state", "upload_seen_at").first()
        if clip is None:
            raise NotFound("No such upload.")
        require_uploading(clip)
        clip_upload_seen(clip)  # a part arriving is news of the upload (on S3, the store's list says so)

    def check_download(self, *, key: str, grantee: str | None = None, grant: str | None = None) -> str | None:
        clip = Clip.objects.filter(storage_key=key).only("state", "sha256").first()
        if clip is None:
            return None
        if grantee and not grant_holds(grantee, grant):
            # Evidence links die with their holder's account, role or password (grants.py).
            raise ApplicationError(
                "The person this link was issued to can no longer use it.", code="link_revoked", status=403
            )
        if clip.state != ClipState.AVAILABLE:
            raise ApplicationError(
                f"The clip is {clip.state}; its bytes are not served.", code="clip_not_available", status=410
            )
        return f'"{clip.sha256}"'

    def downloaded(
        self, *, key: str, request, grantee: str | None, range_header: str | None, length: int, start: int, link: str
    ) -> None:
        clip = Clip.objects.filter(storage_key=key).first()
        if clip is not None:
            # the person the link was issued to, for the custody trail; None (system) for no one in particular
            holder = User.objects.filter(pk=grantee).first() if grantee else None
            clip_downloaded(
                clip=clip,
                context=AuditContext.of(request).as_actor(holder),
                range_header=range_header,
                length=length,
                start=start,
                link=link,
            )
