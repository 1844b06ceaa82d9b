"""python manage.py verify_audit: checks the audit trail's hash chain, and the chain against the
signed checkpoints in the object store; names any broken row and where history was rewritten."""

from django.core.management.base import BaseCommand, CommandError

from apps.audit.anchoring import audit_verify_checkpoints
from apps.audit.selectors import audit_verify_chain


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
            return
        for message in anchors.problems:
            self.stderr.write(f"TAMPERED: {message}")
        for problem in verdict.problems:
            self.stderr.write(f"TAMPERED: {problem.message}")
        count = len(verdict.problems) + len(anchors.problems)
        raise CommandError(f"audit trail broken: {count} problem(s) in {verdict.checked} events")
