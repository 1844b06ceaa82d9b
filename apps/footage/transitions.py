"""The one way a clip changes state, for both halves of footage: a conditional update (the clip
must still be in the state the caller saw, so racing requests and tasks move it once), its audit
event and its console `clip.update`, in one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.services import AuditContext, audit_record
from apps.core.realtime import console_send_after_commit

from .models import Clip
from .serializers import clip_payload


def clip_announce(clip: Clip) -> None:
    """The clip as it is now to every operator's console, after commit."""
    console_send_after_commit("clip.update", clip_payload(clip))


def clip_transition(
    *,
    clip: Clip,
    from_state: str,
    to: str,
    action: str,
    actor: Any = None,
    context: AuditContext | None = None,
    outcome: str = "success",
    details: dict | None = None,
    where: dict | None = None,
    **updates,
) -> bool:
    """Moves `clip` from `from_state` to `to` (with `updates`; `updated_at` defaults to now), audits
    `action` and announces it; False, changing nothing, when the clip had left `from_state` (or no
    longer matches `where`, e.g. a verification lease another reader took). `clip` is re-read either way."""
    updates.setdefault("updated_at", timezone.now())
    with transaction.atomic():
        moved = Clip.objects.filter(pk=clip.pk, state=from_state, **(where or {})).update(state=to, **updates)
        clip.refresh_from_db()
        if moved:
            audit_record(action=action, actor=actor, obj=clip, context=context, outcome=outcome, details=details)
            clip_announce(clip)
    return bool(moved)
