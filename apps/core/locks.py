"""Named locks held to the end of the current transaction."""

from __future__ import annotations

from django.db import connection

# Locks on names a caller chooses (a device serial, a push token) each take a key space of their
# own (PostgreSQL's two-key form, which never meets the one-key form): a name crafted to hash like
# another lock's (the plate lists') can then only ever wait on its own kind.
SPACES = {"enroll": 1, "push-token": 2}


def advisory_lock(name: str, *, shared: bool = False, space: str | None = None) -> None:
    """A lock named `name` (in `space`, one of SPACES) held to the end of the transaction
    (PostgreSQL's advisory lock on the name's hash; SQLite has one writer at a time, so nothing to
    take)."""
    if connection.vendor != "postgresql":
        return
    take = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        if space is None:
            cursor.execute(f"SELECT {take}(hashtext(%s))", [name])
        else:
            cursor.execute(f"SELECT {take}(%s, hashtext(%s))", [SPACES[space], name])
