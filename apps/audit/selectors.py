"""Reads of the audit trail, and the chain check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .models import AuditEvent, AuditHead
from .services import GENESIS, audit_seal_pending


@dataclass
class ChainProblem:
    seq: int
    kind: str  # "changed", "deleted", "truncated"
    message: str


@dataclass
class ChainVerdict:
    checked: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_verify_chain(*, batch: int = 5000) -> ChainVerdict:
    """Walks the whole chain in order: a changed row breaks its own hash, a deleted row
    leaves a gap in the sequence and a broken link, rows cut from the end disagree with the head."""
    audit_seal_pending()  # events a crash left waiting for the chain head join it first
    verdict = ChainVerdict()
    expected_prev, expected_seq = GENESIS, 1
    last_seq = 0
    queryset = AuditEvent.objects.order_by("seq")
    while True:
        rows = list(queryset.filter(seq__gt=last_seq)[:batch])
        if not rows:
            break
        for event in rows:
            verdict.checked += 1
            seq = int(event.seq or 0)  # every row read here has its place (seq > last_seq)
            if seq != expected_seq:
                verdict.problems.append(
                    ChainProblem(
                        expected_seq,
                        "deleted",
                        f"event #{expected_seq}"
                        + (f" to #{seq - 1}" if seq - 1 > expected_seq else "")
                        + " is missing (deleted)",
                    )
                )
            elif event.prev_hash != expected_prev and seq == 1:
                verdict.problems.append(ChainProblem(seq, "changed", "event #1 does not start the chain"))
            elif event.prev_hash != expected_prev:
                # The row before reads differently from what this one linked to: that row was
                # changed and its own hash made up again (the likelier), or this row's link was.
                verdict.problems.append(
                    ChainProblem(
                        seq - 1,
                        "changed",
                        f"event #{seq - 1} was changed after it was written and its hash made up again"
                        f" (or event #{seq}'s link to it was changed): #{seq} no longer links to it",
                    )
                )
            if event.compute_hash() != event.hash:
                verdict.problems.append(
                    ChainProblem(seq, "changed", f"event #{seq} ({event.action}) was changed after it was written")
                )
            expected_prev, expected_seq = event.hash, seq + 1
            last_seq = seq
    head = AuditHead.objects.filter(id=1).first()
    if head is not None and head.seq != last_seq:
        verdict.problems.append(
            ChainProblem(
                last_seq + 1,
                "truncated",
                f"events #{last_seq + 1} to #{head.seq} are missing from the end of the trail (deleted)",
            )
        )
    return verdict


def audit_trail_whole() -> bool:
    """The checks of the whole trail cheap enough for every read of one object's events (a clip's
    custody): no event missing anywhere (as many events up to the head as the head counts), the
    last one still the head's, and the last full walk of the chain (audit_verify, every 6 hours)
    found nothing. An event changed in place shows in its own object's check at once, and in
    everyone's after the next full walk."""
    head = AuditHead.objects.filter(id=1).first()
    if head is None or head.seq == 0:
        return not AuditEvent.objects.filter(seq__isnull=False).exists()
    # Events sealed after the head was read have a higher seq: they do not count here.
    if AuditEvent.objects.filter(seq__lte=head.seq).count() != head.seq:
        return False
    if not AuditEvent.objects.filter(seq=head.seq, hash=head.hash).exists():
        return False
    last_walk = (
        AuditEvent.objects.filter(action="audit.verified").order_by("-at").values_list("outcome", flat=True).first()
    )
    return last_walk != "failure"


def audit_events_for(*, object_type: str, object_ids: Iterable[str]) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=object_type, object_id__in=[str(i) for i in object_ids]))


def audit_verify_events(events: Iterable[AuditEvent]) -> bool:
    """True when each of these rows still matches its own hash (a cheap, local check)."""
    return all(event.compute_hash() == event.hash for event in events)
