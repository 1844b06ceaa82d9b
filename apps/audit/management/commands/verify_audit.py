"""python manage.py verify_audit: checks the audit trail's hash chain, and the chain against the
signed checkpoints in the object store; names any broken row and where history was rewritten."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.audit.anchoring import audit_verify_checkpoints
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify_chain


def _coverage(covered_to: int) -> str:
    """What the signed checkpoints do not vouch for yet: the events after the last one. An
    insider with the database could still delete those without a trace; their age tells whether
    that is the last few minutes (checkpoints are signed every 5) or checkpoints went missing."""
    newer = AuditEvent.objects.filter(seq__gt=covered_to).order_by("seq")
    first = newer.values_list("seq", "at").first()
    if first is None:
        return f"every event is covered by a signed checkpoint (up to #{covered_to})"
    last = newer.order_by("-seq").values_list("seq", flat=True).first()
    age = int((timezone.now() - first[1]).total_seconds() // 60)
    return (
        f"events #{first[0]} to #{last} are not covered by a signed checkpoint yet;"
        f" the oldest of them is {age} minute(s) old (checkpoints are signed every 5 minutes:"
        " much older means checkpoints are missing or not being written)"
    )


class Command(BaseCommand):
    help = "Verify the audit trail (hash chain and signed checkpoints); exits 1 and says where it was tampered with."

    def handle(self, *args, **options):
        verdict = audit_verify_chain()
        anchors = audit_verify_checkpoints()
        if verdict.ok and anchors.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"audit trail intact: {verdict.checked} events verified, {anchors.checkpoints} checkpoints matched"
                )
            )
            self.stdout.write(_coverage(anchors.covered_to))
            return
        for message in anchors.problems:
            self.stderr.write(f"TAMPERED: {message}")
        for problem in verdict.problems:
            self.stderr.write(f"TAMPERED: {problem.message}")
        count = len(verdict.problems) + len(anchors.problems)
        raise CommandError(f"audit trail broken: {count} problem(s) in {verdict.checked} events")
