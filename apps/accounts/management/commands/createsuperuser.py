"""python manage.py createsuperuser: Django's, whose --noinput password meets the password rules.

Django checks AUTH_PASSWORD_VALIDATORS only for a password typed at its prompt: the README's way
to create the first administrator (--noinput with DJANGO_SUPERUSER_PASSWORD) took "abc" for the
one account that can do everything. Here that password is refused with Django's own messages,
and the command ends non-zero with no user made."""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.accounts.models import User


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not options["interactive"] and password is not None:
            # The person to be, as far as the options and the environment say, for the validators
            # that compare the password with the user's name and address.
            fields = {}
            for name in (User.USERNAME_FIELD, *User.REQUIRED_FIELDS):
                value = options.get(name) or os.environ.get(f"DJANGO_SUPERUSER_{name.upper()}")
                if isinstance(value, str):
                    fields[name] = value
            try:
                validate_password(password, User(**fields))
            except ValidationError as exc:
                raise CommandError(
                    f"DJANGO_SUPERUSER_PASSWORD is refused: {' '.join(exc.messages)} No user was created."
                ) from None
        return super().handle(*args, **options)
