"""Periodic work of the audit trail: the chain re-checked, the verdict recorded in it."""

import logging

from celery import shared_task

from .anchoring import audit_checkpoint as write_checkpoint
from .anchoring import audit_verify_checkpoints
from .selectors import audit_verify_chain
from .services import audit_record

log = logging.getLogger(__name__)


# The name it had in apps.core, kept so that queued runs and beat entries still find it.
@shared_task(name="apps.core.tasks.audit_verify")
def audit_verify() -> dict:
    """Re-checks the whole audit chain and records the verdict in the trail itself."""
    verdict = audit_verify_chain()
    anchors = audit_verify_checkpoints()
    problems = anchors.problems + [problem.message for problem in verdict.problems]
    if problems:
        log.error("audit trail broken: %s", "; ".join(problems[:10]))
    audit_record(
        action="audit.verified",
        outcome="success" if not problems else "failure",
        details={"checked": verdict.checked, "problems": problems[:50]},
    )
    return {"checked": verdict.checked, "ok": not problems}


@shared_task(name="apps.core.tasks.audit_checkpoint")
def audit_checkpoint() -> dict:
    """Signs the audit chain's head into the object store (apps.audit.anchoring)."""
    document = write_checkpoint()
    return {"seq": document["seq"] if document else None}
