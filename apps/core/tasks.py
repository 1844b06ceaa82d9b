"""Platform-wide periodic work."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="apps.core.tasks.audit_verify")
def audit_verify() -> dict:
    """Re-checks the whole audit chain and records the verdict in the trail itself."""
    from apps.audit.anchoring import audit_verify_checkpoints
    from apps.audit.selectors import audit_verify_chain
    from apps.audit.services import audit_record

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
    from apps.audit.anchoring import audit_checkpoint as write_checkpoint

    document = write_checkpoint()
    return {"seq": document["seq"] if document else None}
