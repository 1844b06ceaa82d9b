"""python manage.py seed_demo: demo people (one per role) with their passwords, printed.

A random password is made the first time and kept (readable by this user only) in the data
directory, beside the SQLite database and the secret key, so that restarting the demo prints the
same logins and ends nobody's tokens, sessions or evidence links (a new password would)."""

import json
import os
import secrets
import tempfile

from django.conf import settings
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
        kept = _kept_passwords()
        self.stdout.write("Demo logins:")
        self.stdout.write(f"  {'role':<9} {'username':<9} password")
        for username, role, full_name, badge in DEMO_USERS:
            given = options["password"]
            password = given or kept.get(username) or secrets.token_urlsafe(9)
            user, created = User.objects.get_or_create(
                username=username, defaults={"role": role, "full_name": full_name, "badge_number": badge}
            )
            # A restart keeps what IT changed (a name, a badge, a password) and the sessions,
            # tokens and links; a new --password ends the old ones, as IT's reset of it does.
            if not created and user.role != role:
                # Not a demo account: a real person's name on this database. Left as it is.
                self.stdout.write(f"  {user.role:<9} {username:<9} (an existing {user.role} account: left unchanged)")
                continue
            if not created and not given and username in kept and not user.check_password(password):
                # Changed since the demo set it (by IT, by the person, or on another data directory).
                self.stdout.write(
                    f"  {role:<9} {username:<9} (not the password the demo kept: left unchanged;"
                    " --password P sets one for every demo login)"
                )
                continue
            if created or not user.check_password(password):
                user.set_password(password)  # a new password ends the old ones (User.save), audited
                user.save(update_fields=["password"])
            if not given:  # a password given on the command line is the user's to remember
                kept[username] = password
            self.stdout.write(f"  {role:<9} {username:<9} {password}")
        transaction.on_commit(lambda: _keep_passwords(kept))  # only what the database holds


def _kept_file():
    return settings.DATA_DIR / "demo-logins.json"


def _kept_passwords() -> dict:
    try:
        kept = json.loads(_kept_file().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(kept, dict):
        return {}
    return {name: password for name, password in kept.items() if isinstance(password, str) and password}


def _keep_passwords(kept: dict) -> None:
    path = _kept_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".demo-logins-")  # readable by its owner alone
    with os.fdopen(fd, "w") as handle:
        json.dump(kept, handle)
    os.replace(temporary, path)
