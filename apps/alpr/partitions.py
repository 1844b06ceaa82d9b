"""Reads partitioned by day on PostgreSQL (declarative range partitioning on `read_at`).

One partition per UTC day, named alpr_read_pYYYYMMDD, created a few days ahead by the
periodic task; a DEFAULT partition takes any read whose day has none (a camera with a wrong
clock). Retention drops a whole day once all of it is past the cutoff (after moving the reads
behind a hit into the default partition, where they stay) and deletes in bounded batches
within the day that straddles the cutoff. SQLite (the embedded default) has one plain table.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta

from django.db import connection, migrations

log = logging.getLogger(__name__)

TABLE = "alpr_read"
DEFAULT = "alpr_read_default"
_NAME = re.compile(r"^alpr_read_p(\d{8})$")
_EXPIRED = re.compile(r"^alpr_read_x[0-9]{8}$")  # a day detached, still to count and drop

CREATE_SQL = f"""
CREATE TABLE "{TABLE}" (
    "id" uuid NOT NULL,
    "reader_id" uuid NOT NULL,
    "read_id" varchar(64) NOT NULL,
    "plate" varchar(32) NOT NULL,
    "plate_normalized" varchar(16) NOT NULL,
    "plate_folded" varchar(16) NOT NULL,
    "plate_state" varchar(2) NOT NULL,
    "confidence" double precision NULL,
    "read_at" timestamp with time zone NOT NULL,
    "received_at" timestamp with time zone NOT NULL,
    "lat" double precision NULL,
    "lon" double precision NULL,
    "heading" double precision NULL,
    "candidates" jsonb NOT NULL,
    "vehicle" jsonb NOT NULL,
    "image_key" varchar(200) NOT NULL,
    "image_sha256" varchar(64) NOT NULL,
    "image_size" integer NULL CHECK ("image_size" >= 0),
    "has_hit" boolean NOT NULL,
    PRIMARY KEY ("id", "read_at")
) PARTITION BY RANGE ("read_at");
CREATE TABLE "{DEFAULT}" PARTITION OF "{TABLE}" DEFAULT;
CREATE INDEX "alpr_read_plate" ON "{TABLE}" ("plate_normalized", "read_at");
CREATE INDEX "alpr_read_folded" ON "{TABLE}" ("plate_folded", "read_at");
CREATE INDEX "alpr_read_at" ON "{TABLE}" ("read_at");
CREATE INDEX "alpr_read_reader_read_id" ON "{TABLE}" ("reader_id", "read_id");
"""
DROP_SQL = f'DROP TABLE IF EXISTS "{TABLE}" CASCADE;'


def is_partitioned() -> bool:
    return connection.vendor == "postgresql"


class PostgresOnlyRunSQL(migrations.RunSQL):
    """RunSQL that runs on PostgreSQL only (the partitioned table)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class NotOnPostgres(migrations.operations.base.Operation):
    """Runs the wrapped operation's schema change everywhere but PostgreSQL (a plain table)."""

    reduces_to_sql = False
    reversible = True

    def __init__(self, operation):
        self.operation = operation

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.operation], {})

    def state_forwards(self, app_label, state):
        self.operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{self.operation.describe()} (not on PostgreSQL)"


def partition_name(day: date) -> str:
    return f"alpr_read_p{day:%Y%m%d}"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def existing_partitions(cursor) -> dict[date, str]:
    cursor.execute(
        """
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = %s
        """,
        [TABLE],
    )
    days = {}
    for (name,) in cursor.fetchall():
        match = _NAME.match(name)
        if match:
            days[datetime.strptime(match.group(1), "%Y%m%d").date()] = name
    return days


def ensure_partitions(*, today: date | None = None, ahead: int = 3, behind: int = 0) -> list[str]:
    """Creates the daily partitions from `behind` days ago to `ahead` days on; returns new names.

    A day's reads that already sit in the default partition are moved into the new partition
    in the same transaction (attaching over them would fail)."""
    if not is_partitioned():
        return []
    from django.db import transaction

    today = today or datetime.now(UTC).date()
    created = []
    with connection.cursor() as cursor:
        have = existing_partitions(cursor)
    for offset in range(-behind, ahead + 1):
        day = today + timedelta(days=offset)
        if day in have:
            continue
        name = partition_name(day)
        start, end = _bounds(day)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [TABLE])
            if day in existing_partitions(cursor):
                continue
            cursor.execute(f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
            move = f'WITH moved AS (DELETE FROM "{DEFAULT}" WHERE read_at >= %s AND read_at < %s RETURNING *) '  # noqa: S608
            move += f'INSERT INTO "{name}" SELECT * FROM moved'  # noqa: S608 - names built here
            cursor.execute(move, [start, end])
            cursor.execute(
                f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)', [start, end]
            )
        created.append(name)
    return created


def drop_partitions_before(cutoff: datetime, *, before_commit=None) -> tuple[int, list[str], list[str]]:
    """Drops every daily partition that lies wholly before `cutoff`.

    Reads behind a hit are moved to the default partition first (they are kept with their
    hit). `before_commit(image keys)` runs in each partition's transaction, before its commit.
    Returns (reads deleted, image keys of the deleted reads, partitions dropped).

    In two steps, so that the reads table is locked only as long as DETACH needs: the partition
    is detached (with ACCESS EXCLUSIVE on alpr_read, which every ingest and search waits for), its
    hit reads copied back and the table renamed alpr_read_xYYYYMMDD, and that commits; the
    counting, the images owed a delete (one row each: 56,000 took 28 s) and the DROP follow on the
    detached table, which nothing else reads. A run that dies between the two leaves the renamed
    table to the next run, which finishes it. A run that finds another at work (the table's
    advisory lock taken) leaves the rest to it and goes: waiting, every minute's run held a worker
    slot for as long as the first one took."""
    if not is_partitioned():
        return 0, [], []
    from django.db import transaction

    dropped: list[str] = []
    with connection.cursor() as cursor:
        have = existing_partitions(cursor)
    for day, name in sorted(have.items()):
        _, end = _bounds(day)
        if end > cutoff:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            if not _table_lock_taken(cursor, name):
                break
            if day not in existing_partitions(cursor):  # an overlapping run dropped it meanwhile
                continue
            cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{name}"')
            # partition names come from pg_inherits and match _NAME: not user input
            cursor.execute(f'INSERT INTO "{TABLE}" SELECT * FROM "{name}" WHERE has_hit')  # noqa: S608
            cursor.execute(f'ALTER TABLE "{name}" RENAME TO "{expired_name(day)}"')
        dropped.append(name)
    deleted, keys = _drop_expired(before_commit)
    return deleted, keys, dropped


def _table_lock_taken(cursor, name: str) -> bool:
    """The reads table's advisory lock, for this transaction, if no other run holds it. Another
    run holds it while it finishes a day (minutes at 10 million reads): that run does the rest, this
    one goes. Waiting, each minute's run took a worker slot for as long as the first one ran."""
    cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [TABLE])
    if cursor.fetchone()[0]:
        return True
    log.info("alpr: another run is dropping expired reads; %s is left to it or the next run", name)
    return False


def expired_name(day: date) -> str:
    return f"alpr_read_x{day:%Y%m%d}"


def _drop_expired(before_commit) -> tuple[int, list[str]]:
    """Counts, lists the images of and drops every detached day (drop_partitions_before's second
    step); returns (reads deleted, their image keys)."""
    from django.db import transaction

    deleted = 0
    keys: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ %s", [_EXPIRED.pattern])
        names = sorted(name for (name,) in cursor.fetchall())
    for name in names:
        with transaction.atomic(), connection.cursor() as cursor:
            if not _table_lock_taken(cursor, name):
                break
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{name}"'])
            if not cursor.fetchone()[0]:  # an overlapping run finished it meanwhile
                continue
            # names come from pg_class and match _EXPIRED: not user input
            cursor.execute(f'SELECT count(*) FROM "{name}" WHERE NOT has_hit')  # noqa: S608
            deleted += cursor.fetchone()[0]
            cursor.execute(f"SELECT image_key FROM \"{name}\" WHERE NOT has_hit AND image_key <> ''")  # noqa: S608
            images = [key for (key,) in cursor.fetchall()]
            keys.extend(images)
            cursor.execute(f'DROP TABLE "{name}"')
            if before_commit is not None:
                before_commit(images)
    return deleted, keys
