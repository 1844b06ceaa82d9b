"""Periodic work of the audit trail: the chain re-checked, the verdict recorded in it."""

import logging

from celery import shared_task

from .anchoring import audit_checkpoint as write_checkpoint
from .verification import audit_verify_recorded

log = logging.getLogger(__name__)


# The name it had in apps.core, kept so that queued runs and beat entries still find it.
@shared_task(name="apps.core.tasks.audit_verify")
def audit_verify() -> dict:
    """Re-checks the whole audit chain and records the verdict in the trail itself."""
    verdict = audit_verify_recorded(by="schedule")
    return {"checked": verdict.chain.checked, "ok": verdict.ok}


@shared_task(name="apps.core.tasks.audit_checkpoint")
def audit_checkpoint() -> dict:
    """Signs the audit chain's head into the object store (apps.audit.anchoring)."""
    document = write_checkpoint()
    return {"seq": document["seq"] if document else None}
