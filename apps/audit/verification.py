"""The whole audit trail checked (the hash chain, and the chain against the signed checkpoints)
and the verdict recorded in the trail itself (`audit.verified`), by the 6-hourly task and by
`python manage.py verify_audit` alike: every clip's custody (`chain_intact`) follows the last
full check, whoever ran it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .anchoring import AnchorVerdict, audit_verify_checkpoints
from .selectors import ChainVerdict, audit_verify_chain
from .services import audit_record

log = logging.getLogger(__name__)


@dataclass
class TrailVerdict:
    chain: ChainVerdict
    anchors: AnchorVerdict

    @property
    def problems(self) -> list[str]:
        return self.anchors.problems + [problem.message for problem in self.chain.problems]

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_verify_recorded(*, by: str) -> TrailVerdict:
    """Checks the whole trail and records the verdict in it; `by` says who ran the check."""
    verdict = TrailVerdict(chain=audit_verify_chain(), anchors=audit_verify_checkpoints())
    problems = verdict.problems
    if problems:
        log.error("audit trail broken: %s", "; ".join(problems[:10]))
    audit_record(
        action="audit.verified",
        outcome="success" if not problems else "failure",
        details={"checked": verdict.chain.checked, "problems": problems[:50], "by": by},
    )
    return verdict
