"""Reads of live view: sessions, the segments a playlist lists."""

from __future__ import annotations

import functools
import uuid

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet

from apps.core.errors import NotFound
from apps.core.rows import Columns
from apps.devices.models import Device

from . import conf
from .models import LiveSegment, LiveSession


def live_get(*, session_id) -> LiveSession:
    try:
        session = LiveSession.objects.select_related("device", "requested_by").filter(pk=session_id).first()
    except ValidationError:
        session = None
    if session is None:
        raise NotFound("No such live session.")
    return session


def live_list(*, filters: dict) -> QuerySet[LiveSession]:
    sessions = LiveSession.objects.select_related("device", "requested_by").order_by("-created_at")
    if filters.get("state"):
        sessions = sessions.filter(state=filters["state"])
    if filters.get("device"):
        sessions = sessions.filter(device_id=filters["device"])
    return sessions


def playlist_segments(*, session_id) -> tuple[LiveSegment | None, list[LiveSegment]]:
    """The init segment (or None) and the latest media segments, oldest first."""
    rows = list(
        LiveSegment.objects.filter(session_id=session_id, sequence__isnull=False)
        .order_by("-sequence")
        .only("name", "sequence", "duration", "stored_at")[: conf.playlist_segments()]
    )
    rows.reverse()
    init = LiveSegment.objects.filter(session_id=session_id, name="init.mp4").only("name").first()
    return init, rows


@functools.cache
def _camera_put_sql() -> tuple[str, Columns, Columns]:
    """Written once per process from the models' own columns and converters (Django would compile
    the same select_related query again for every segment, which cost more CPU than the query)."""
    q = connection.ops.quote_name
    session, device = Columns(LiveSession, "s"), Columns(Device, "d")
    session_table, device_table = q(LiveSession._meta.db_table), q(Device._meta.db_table)
    segment_table = q(LiveSegment._meta.db_table)
    exists = f"EXISTS (SELECT 1 FROM {segment_table} g WHERE g.session_id = s.id AND g.name = %s)"  # noqa: S608
    where = "s.id = %s AND d.token_hash = %s AND d.revoked_at IS NULL"
    # Every name is the models' own, quoted; the values are parameters.
    sql = f"SELECT {', '.join(session.sql + device.sql)}, {exists} FROM {session_table} s"  # noqa: S608
    sql += f" JOIN {device_table} d ON d.id = s.device_id WHERE {where}"
    return sql, session, device


def camera_put_statement(*, session_id: str, token_hash: str, name: str) -> tuple[str, list]:
    """(SQL, params) of camera_put_target's one query, for async code (apps/live/fastpath.py)."""
    sql, _, _ = _camera_put_sql()
    return sql, [name, LiveSession._meta.pk.get_db_prep_value(uuid.UUID(session_id), connection), token_hash]


def camera_put_found(row) -> tuple[LiveSession, bool] | None:
    """What camera_put_target returns, from the row of its query (or None)."""
    if row is None:
        return None
    _, session_columns, device_columns = _camera_put_sql()
    split = len(session_columns.sql)
    session = session_columns.instance(row[:split])
    session.device = device_columns.instance(row[split:-1])  # the last: the EXISTS
    return session, bool(row[-1])


def camera_put_target(*, session_id: str, token_hash: str, name: str) -> tuple[LiveSession, bool] | None:
    """For a camera's segment PUT, in one query: the session (its `device` loaded) if the token is
    its unrevoked camera's, and whether a segment of that name is already stored; else None.
    The caller still compares the token's hash in constant time (token_matches)."""
    with connection.cursor() as cursor:
        cursor.execute(*camera_put_statement(session_id=session_id, token_hash=token_hash, name=name))
        return camera_put_found(cursor.fetchone())
