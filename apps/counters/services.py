"""The one way to count: `counter_add` inside the transaction that records the counted event.

Every app may call it (it sits beside the audit trail, below every feature app). Adding is an
upsert on (level, start, name, shard) rows taken in a fixed order, so concurrent writers never
deadlock; each statement picks one of the bucket's SHARDS rows at random, so that transactions
counting the same thing at once seldom wait for each other (an added row stays locked until its
transaction commits); a negative `n` takes a count back (an assist moved or edited).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import EXACT_KEEP, EXACT_SINCE, SHARDS, Count, Level


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(at: datetime) -> datetime:
    return floor_hour(at).replace(hour=0)


def floor_month(at: datetime) -> datetime:
    return floor_day(at).replace(day=1)


def buckets_of(at: datetime) -> list[tuple[str, datetime]]:
    return [
        (Level.EXACT, at.astimezone(UTC)),
        (Level.HOUR, floor_hour(at)),
        (Level.DAY, floor_day(at)),
        (Level.MONTH, floor_month(at)),
    ]


def counters_add(*, counts: Mapping[str, int], at: datetime | None = None) -> None:
    """Adds each `{name: n}` to the hour, day and month of `at` (default now)."""
    statement = counts_upsert(counts=counts, at=at)
    if statement is None:
        return
    # One statement: no savepoint of its own (two round trips) inside the caller's transaction.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(*statement)


def counts_upsert(
    *, counts: Mapping[str, int], at: datetime | None = None, when: str | None = None
) -> tuple[str, list] | None:
    """The one statement (SQL, params) counters_add runs, for a caller that runs it itself (as a
    part of a larger statement, counting only `when` that SQL condition holds); None when there is
    nothing to add."""
    at = at or timezone.now()
    rows = sorted((level, start, name, int(n)) for name, n in counts.items() if n for level, start in buckets_of(at))
    if not rows:
        return None
    shard = random.randrange(SHARDS)  # one for the statement: its rows are still taken in order
    table = connection.ops.quote_name(Count._meta.db_table)
    if connection.vendor == "postgresql":
        # The rows as five arrays: the same text and five parameters whatever the number of rows.
        # psycopg caches a query's conversion only up to 50 parameters, and a statement that
        # counts as a part of its own (the command's) stays under that.
        levels, starts, names, ns = (list(column) for column in zip(*rows, strict=True))
        rows_sql = (
            "SELECT * FROM unnest(%s::varchar[], %s::timestamptz[], %s::varchar[], %s::smallint[], %s::bigint[])"
            " AS v (level, start, name, shard, n)"
        )
        params: list = [[str(level) for level in levels], starts, names, [shard] * len(rows), ns]
    else:
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
        params = []
        for level, start, name, n in rows:
            params += [str(level), connection.ops.adapt_datetimefield_value(start), name, shard, n]
        rows_sql = f"VALUES {values}"
    if when is not None:  # the caller's own SQL, never a value
        rows_sql = f"SELECT * FROM ({rows_sql}) AS v WHERE {when}"  # noqa: S608
    sql = (
        f"INSERT INTO {table} (level, start, name, shard, n) {rows_sql} "
        f"ON CONFLICT (level, start, name, shard) DO UPDATE SET n = {table}.n + excluded.n"
    )
    return sql, params


def counter_add(*, name: str, n: int = 1, at: datetime | None = None) -> None:
    counters_add(counts={name: n}, at=at)


def counters_prune(*, now: datetime | None = None) -> int:
    """Deletes the exact rows older than EXACT_KEEP (a window's end before that is counted from
    its whole hour); returns how many went."""
    cutoff = (now or timezone.now()) - EXACT_KEEP
    deleted, _ = Count.objects.filter(level=Level.EXACT, start__lt=cutoff).exclude(name=EXACT_SINCE).delete()
    return deleted
