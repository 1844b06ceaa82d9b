"""python manage.py verify_audit: checks the audit trail's hash chain and names any broken row."""

from django.core.management.base import BaseCommand, CommandError

from apps.audit.selectors import audit_verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exits 1 and names the rows when it was tampered with."

    def handle(self, *args, **options):
        verdict = audit_verify_chain()
        if verdict.ok:
            self.stdout.write(self.style.SUCCESS(f"audit trail intact: {verdict.checked} events verified"))
            return
        for problem in verdict.problems:
            self.stderr.write(f"TAMPERED: {problem.message}")
        raise CommandError(f"audit trail broken: {len(verdict.problems)} problem(s) in {verdict.checked} events")
