"""python manage.py seed_demo: demo people (one per role) with fresh passwords, printed once."""

import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import Role, User

DEMO_USERS = [
    ("officer", Role.OFFICER, "Officer Dana Reyes", "4711"),
    ("officer2", Role.OFFICER, "Officer Jordan Blake", "4712"),
    ("operator", Role.OPERATOR, "Operator Sam Kim", ""),
    ("clerk", Role.CLERK, "Clerk Lee Novak", ""),
    ("it", Role.IT, "IT Admin Pat Osei", ""),
]


class Command(BaseCommand):
    help = "Create (or reset) one demo user per role and print their logins."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="use this password for all demo users instead of random ones")

    @transaction.atomic
    def handle(self, *args, **options):
        self.stdout.write("Demo logins:")
        self.stdout.write(f"  {'role':<9} {'username':<9} password")
        for username, role, full_name, badge in DEMO_USERS:
            password = options["password"] or secrets.token_urlsafe(9)
            user, created = User.objects.get_or_create(
                username=username, defaults={"role": role, "full_name": full_name, "badge_number": badge}
            )
            # A restart keeps what IT changed (a name, a badge) and, with the same --password, the
            # sessions and tokens; a new password ends the old ones, as IT's reset of it does.
            if not created and user.role != role:
                # Not a demo account: a real person's name on this database. Left as it is.
                self.stdout.write(f"  {user.role:<9} {username:<9} (an existing {user.role} account: left unchanged)")
                continue
            if created or not user.check_password(password):
                user.set_password(password)  # a new password ends the old ones (User.save), audited
                user.save(update_fields=["password"])
            self.stdout.write(f"  {role:<9} {username:<9} {password}")
