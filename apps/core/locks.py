"""Named locks held to the end of the current transaction."""

from __future__ import annotations

from django.db import connection


def advisory_lock(name: str, *, shared: bool = False) -> None:
    """A lock named `name` held to the end of the transaction (PostgreSQL's advisory lock on the
    name's hash; SQLite has one writer at a time, so nothing to take)."""
    if connection.vendor != "postgresql":
        return
    take = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {take}(hashtext(%s))", [name])
