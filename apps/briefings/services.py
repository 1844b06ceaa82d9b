"""Every write of the briefings app: incidents, media, briefings, deliveries, acknowledgements."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, ForeignObjectRel
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.audit.services import AuditContext, audit_record, audit_record_many
from apps.core.errors import InvalidInput, NotFound
from apps.core.realtime import console_send_many_after_commit
from apps.counters import names as counted
from apps.counters.services import counter_add
from apps.devices.models import Device
from apps.integrations import leftovers, push
from apps.integrations.push import PushMessage, PushResult
from apps.integrations.storage import atomic_with_objects

from . import conf, media, notification, selectors
from .models import Briefing, Delivery, DeliveryState, Incident, IncidentOfficer, Media
from .serializers import DELIVERY_PAYLOAD_FIELDS, delivery_payload

log = logging.getLogger(__name__)
MEDIA_UNUSED = "briefing photo never used"


def _officers_by_ids(ids: Iterable, *, field: str) -> list[User]:
    """The officers with these ids, or a 400 naming the ids that are not active officers."""
    wanted = list(dict.fromkeys(str(i) for i in ids))
    found = {str(u.pk): u for u in User.objects.filter(pk__in=wanted, role=Role.OFFICER, is_active=True)}
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise InvalidInput(
            f"Not active officers: {', '.join(unknown)}.",
            fields={field: [f"Not an active officer: {i}." for i in unknown]},
        )
    return [found[i] for i in wanted]


@transaction.atomic
def incident_create(
    *,
    actor: User,
    title: str,
    lat: float,
    lon: float,
    radius_m: float | None = None,
    case_number: str = "",
    context: AuditContext | None = None,
) -> Incident:
    incident = Incident.objects.create(
        title=title,
        lat=lat,
        lon=lon,
        case_number=case_number,
        created_by=actor,
        **({"radius_m": radius_m} if radius_m else {}),
    )
    audit_record(
        action="incident.create",
        actor=actor,
        obj=incident,
        context=context,
        details={"title": title, "lat": lat, "lon": lon, "radius_m": incident.radius_m, "case_number": case_number},
    )
    return incident


@transaction.atomic
def incident_assign_officers(
    *, actor: User, incident: Incident, officers: list, context: AuditContext | None = None
) -> Incident:
    """Adds officers to the incident (already assigned ones are left as they are). One request at
    a time per incident: two adding the same officer at once both read them unassigned, and the
    second insert broke the unique constraint (a 500)."""
    people = _officers_by_ids(officers, field="officers")
    Incident.objects.select_for_update().filter(pk=incident.pk).first()
    existing = set(IncidentOfficer.objects.filter(incident=incident).values_list("officer_id", flat=True))
    added = [p for p in people if p.pk not in existing]
    IncidentOfficer.objects.bulk_create(
        [IncidentOfficer(incident=incident, officer=p, assigned_by=actor) for p in added]
    )
    audit_record(
        action="incident.assign",
        actor=actor,
        obj=incident,
        context=context,
        details={"added": [str(p.pk) for p in added]},
    )
    return incident


# Media ---------------------------------------------------------------------------------------


def media_upload(*, actor: User, data: bytes, context: AuditContext | None = None) -> Media:
    """Checks and re-encodes a photo (apps.briefings.media), stores both sizes, records it."""
    cleaned = media.clean(data)
    item = Media(
        uploaded_by=actor,
        original_format=cleaned.original_format,
        width=cleaned.image.width,
        height=cleaned.image.height,
        content_type="image/jpeg",
        image_size=len(cleaned.image.data),
        thumbnail_size=len(cleaned.thumbnail.data),
        thumbnail_width=cleaned.thumbnail.width,
        thumbnail_height=cleaned.thumbnail.height,
    )
    item.image_key = f"media/{item.pk}/image.jpg"
    item.thumbnail_key = f"media/{item.pk}/thumbnail.jpg"
    # The store failing is a 503, with no media row and no object left: the operator uploads again.
    with atomic_with_objects() as objects:
        objects.put(item.image_key, cleaned.image.data, content_type="image/jpeg")
        objects.put(item.thumbnail_key, cleaned.thumbnail.data, content_type="image/jpeg")
        item.save(force_insert=True)
        audit_record(
            action="media.upload",
            actor=actor,
            obj=item,
            context=context,
            details={
                "format": cleaned.original_format,
                "bytes_in": len(data),
                "width": item.width,
                "height": item.height,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
    return item


def media_hold(*, ids: Iterable) -> None:
    """In the transaction of a briefing or a lead that names these photos: marks them in use, for
    good. The UPDATE takes their rows, so the purge (which takes the unused rows it deletes first)
    either deleted one already (the caller finds it missing: a 400) or leaves it be."""
    wanted = sorted({str(pk) for pk in ids})
    if wanted:
        Media.objects.filter(pk__in=wanted, in_use=False).update(in_use=True)


def _named_by_briefings(ids: set[str], since: datetime) -> set[str]:
    """Which of these media ids a briefing made since `since` names, whether or not it held them
    (a briefing saved by the previous release during an upgrade did not)."""
    named: set[str] = set()
    rows = Briefing.objects.filter(created_at__gte=since).values_list("suspects", "vehicles")
    for suspects, vehicles in rows.iterator(chunk_size=2000):
        named.update(pk for _, pk in _photos(suspects=suspects or [], vehicles=vehicles or []) if pk in ids)
    return named


# Lookups of photos named in data no foreign key covers (a briefing's suspects and vehicles, and
# through register_media_namer the apps above this one: a lead's candidates): lookup(media ids,
# since) -> the ids among them a row made since `since` names.
_media_namers: list[Callable[[set[str], datetime], set[str]]] = [_named_by_briefings]


def register_media_namer(lookup: Callable[[set[str], datetime], set[str]]) -> None:
    """Called in an AppConfig.ready: the purge keeps what `lookup` finds named, held or not."""
    _media_namers.append(lookup)


def _named_in_data(ids: set[str], *, since: datetime) -> set[str]:
    """Which of these media ids a briefing or a registered app names, held or not (a briefing or
    lead saved by the previous release during an upgrade named its photos without holding them)."""
    named: set[str] = set()
    for lookup in _media_namers:
        named |= lookup(ids, since)
    return named


def _referenced_by_rows(ids: set[str]) -> set[str]:
    """Which of these media ids a row of another model refers to (a lead's probe image): found
    through the relations Django knows, so that this app need not import the apps above it."""
    referenced: set[str] = set()
    for relation in Media._meta.get_fields(include_hidden=True):  # related_name="+" ones too
        if not isinstance(relation, ForeignObjectRel) or relation.related_model is None or relation.many_to_many:
            continue
        rows = relation.related_model._default_manager.filter(**{f"{relation.field.name}__in": ids})
        referenced.update(str(pk) for pk in rows.values_list(relation.field.attname, flat=True))
    return referenced


def _media_purge_batch(*, cutoff: datetime) -> tuple[int, bool]:
    """One transaction: takes up to conf.media_purge_batch() unused photos uploaded before `cutoff`
    (rows another transaction holds are skipped), keeps any that something names after all
    (marked in use), deletes the rest with an audit event each and owes their objects a delete.
    Returns (how many deleted, whether more may be left)."""
    batch = conf.media_purge_batch()
    with transaction.atomic():
        rows = list(
            Media.objects.select_for_update(skip_locked=True)
            .filter(in_use=False, created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("pk", "created_at", "image_key", "thumbnail_key")[:batch]
        )
        if not rows:
            return 0, False
        ids = {str(r[0]) for r in rows}
        since = min(r[1] for r in rows) - timedelta(hours=1)  # a briefing is made after its photos
        kept = _named_in_data(ids, since=since) | _referenced_by_rows(ids)
        if kept:
            log.warning("briefings: %d photos named without being marked in use; kept", len(kept))
            Media.objects.filter(pk__in=kept).update(in_use=True)
        gone = [r for r in rows if str(r[0]) not in kept]
        Media.objects.filter(pk__in=[r[0] for r in gone], in_use=False).delete()
        audit_record_many(
            [
                {"action": "media.expire", "object_type": "media", "object_id": r[0], "details": {"reason": "unused"}}
                for r in gone
            ]
        )
        keys = [key for r in gone for key in (r[2], r[3]) if key]
        leftovers.intend(keys, reason=MEDIA_UNUSED)
    leftovers.delete_intended(keys, reason=MEDIA_UNUSED)  # once the rows are gone
    return len(gone), len(rows) == batch


def media_purge_unused(*, now: datetime | None = None) -> int:
    """Deletes photos no briefing or lead has named since their upload, conf.media_unused_keep()
    after it (an upload that was never sent): the row, the image and the thumbnail. Bounded
    batches, each its own transaction, within conf.media_purge_time_budget(); the next run
    carries on. A photo in use is never touched. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - conf.media_unused_keep()
    started, total, more = time.monotonic(), 0, True
    while more:
        deleted, more = _media_purge_batch(cutoff=cutoff)
        total += deleted
        more = more and time.monotonic() - started < conf.media_purge_time_budget()
    if total:
        log.info(
            "briefings: %d photos never used in a briefing deleted (unused for %s)", total, conf.media_unused_keep()
        )
    return total


# Briefings -----------------------------------------------------------------------------------


def _photos(*, suspects: list[dict], vehicles: list[dict]) -> list[tuple[str, str]]:
    """(field, media id) of every photo the briefing names."""
    return [
        (f"{group}.{i}.photo", str(item["photo"]))
        for group, items in (("suspects", suspects), ("vehicles", vehicles))
        for i, item in enumerate(items)
        if item.get("photo")
    ]


def _check_photos(*, suspects: list[dict], vehicles: list[dict], hold: bool = False) -> Media | None:
    """Every photo id names stored media (else 400); returns the first photo, for the notification.
    `hold` (in the briefing's transaction): the photos are marked in use, so the purge of unused
    media leaves them for good; one it deleted a moment ago is a 400 as if never uploaded."""
    wanted = _photos(suspects=suspects, vehicles=vehicles)
    if hold:
        media_hold(ids=[pk for _, pk in wanted])
    found = {str(m.pk): m for m in Media.objects.filter(pk__in=[pk for _, pk in wanted])}
    missing = {field: [f"Unknown media id: {pk}."] for field, pk in wanted if pk not in found}
    if missing:
        raise InvalidInput("A photo names media that does not exist.", fields=missing)
    return found[wanted[0][1]] if wanted else None


def _jsonable(items: list[dict]) -> list[dict]:
    return [
        {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in item.items() if v not in (None, "")}
        for item in items
    ]


def _announce_deliveries(rows: list) -> None:
    """A console `delivery.update` per row (a Delivery or a DELIVERY_PAYLOAD_FIELDS dict), after commit."""
    console_send_many_after_commit("delivery.update", [delivery_payload(row) for row in rows])


COPY_FIELDS = (
    "id",
    "briefing_id",
    "officer_id",
    "device_id",
    "token",
    "state",
    "attempts",
    "next_attempt_at",
    "message_id",
    "error",
    "created_at",
    "updated_at",
)
QUEUED, FAILED = DeliveryState.QUEUED.value, DeliveryState.FAILED.value


def _uuid4s(count: int):
    """count random (version 4) UUIDs from one read of the system's randomness."""
    block = os.urandom(16 * count)
    for i in range(count):
        yield uuid.UUID(bytes=block[16 * i : 16 * i + 16], version=4)


def _initial_rows(briefing_id, officers: list, phones: dict, now) -> list[tuple]:
    """One row (COPY_FIELDS) per recipient phone; an officer with no phone gets one `failed`
    row (no_phone), a phone without a push token a `failed` one (no_push_token)."""
    lease = now + conf.push_stale_after()  # the sweep leaves the first send this long
    rows = []
    ids = _uuid4s(len(officers) + sum(len(p) for p in phones.values()))
    for officer_id in officers:
        devices = phones.get(officer_id, [])
        if not devices:
            rows.append((next(ids), briefing_id, officer_id, None, "", FAILED, 0, None, "", "no_phone", now, now))
        for device_id, token in devices:
            if token:
                rows.append((next(ids), briefing_id, officer_id, device_id, token, QUEUED, 0, lease, "", "", now, now))
            else:
                rows.append(
                    (next(ids), briefing_id, officer_id, device_id, "", FAILED, 0, None, "", "no_push_token", now, now)
                )
    return rows


def _officers_without_phone(officers: list, rows: list[tuple]) -> int:
    """How many of the officers got no queued push (no phone, or none with a push token): they
    are in `recipients` but can never read the briefing on a phone (as the preview counts them)."""
    officer, state = COPY_FIELDS.index("officer_id"), COPY_FIELDS.index("state")
    pushed = {r[officer] for r in rows if r[state] == QUEUED}
    return sum(1 for o in officers if o not in pushed)


def _insert_rows(rows: list[tuple]) -> None:
    """bulk_create, or on PostgreSQL one COPY (10,000 rows in a fraction of the time)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Delivery.objects.bulk_create(
            [Delivery(**dict(zip(COPY_FIELDS, row, strict=True))) for row in rows], batch_size=2000
        )
        return
    columns = ", ".join(COPY_FIELDS)  # the column names (a foreign key's column is <name>_id)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY {Delivery._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def briefing_create(
    *,
    actor: User,
    priority: str,
    title: str,
    audience: dict,
    body: str = "",
    notice: str = "",
    suspects: list[dict] | None = None,
    vehicles: list[dict] | None = None,
    incident: Incident | None = None,
    base_url: str = "",
    context: AuditContext | None = None,
) -> Briefing:
    """Saves the briefing and one delivery per recipient phone; the pushes go out after commit."""
    suspects, vehicles = _jsonable(suspects or []), _jsonable(vehicles or [])
    photo = _check_photos(suspects=suspects, vehicles=vehicles)
    officers = selectors.audience_officers(audience=audience, incident=incident)
    phones = selectors.officer_phones(officer_ids=officers)
    now = timezone.now()
    with transaction.atomic():
        _check_photos(suspects=suspects, vehicles=vehicles, hold=True)
        briefing = Briefing.objects.create(
            incident=incident,
            priority=priority,
            title=title,
            body=body,
            notice=notice,
            suspects=suspects,
            vehicles=vehicles,
            audience=json.loads(json.dumps(audience, default=str)),
            created_by=actor,
            created_at=now,
            image_url=(base_url.rstrip("/") + media.thumbnail_path(photo.pk)) if photo and base_url else "",
        )
        rows = _initial_rows(briefing.pk, officers, phones, now)
        _insert_rows(rows)
        state = COPY_FIELDS.index("state")
        queued = [str(r[0]) for r in rows if r[state] == QUEUED]
        briefing.recipients = len(officers)
        briefing.phones = len(queued)
        briefing.officers_without_phone = _officers_without_phone(officers, rows)
        briefing.save(update_fields=["recipients", "phones", "officers_without_phone"])
        counter_add(name=counted.BRIEFING_SENT, at=now)
        audit_record(
            action="briefing.create",
            actor=actor,
            obj=briefing,
            context=context,
            details={
                "priority": priority,
                "title": title,
                "audience": briefing.audience,
                "incident": str(incident.pk) if incident else None,
                "recipients": briefing.recipients,
                "phones": briefing.phones,
                "officers_without_phone": briefing.officers_without_phone,
                "photos": len([i for i in suspects + vehicles if i.get("photo")]),
            },
        )
        _announce_deliveries(
            [
                {**dict(zip(COPY_FIELDS, r, strict=True)), "sent_at": None, "acknowledged_at": None}
                for r in rows
                if r[state] != QUEUED
            ]
        )
        transaction.on_commit(lambda: enqueue_sends(queued, initial=True))
    return briefing


def enqueue_sends(delivery_ids: list[str], *, initial: bool = False, countdown: float | None = None) -> None:
    """One send task per batch of at most 500. A broker that is down loses nothing: the rows
    stay queued and the periodic sweep sends them (a first send at its next run)."""
    from . import tasks

    size = conf.push_batch_size()
    for start in range(0, len(delivery_ids), size):
        chunk = delivery_ids[start : start + size]
        try:
            if countdown:
                tasks.push_deliveries.apply_async(args=(chunk,), kwargs={"initial": initial}, countdown=countdown)
            else:
                tasks.push_deliveries.delay(chunk, initial=initial)
        except Exception:
            log.exception("could not queue the push of %d deliveries; the sweep will send them", len(chunk))
            if initial:
                _first_send_lost(chunk)


def _first_send_lost(delivery_ids: list[str]) -> None:
    """No first send is coming for these rows (it could not be queued): they are the sweep's at
    its next run, not when their creation lease ends two minutes later."""
    try:
        Delivery.objects.filter(pk__in=delivery_ids, state=DeliveryState.QUEUED, attempts=0).update(
            next_attempt_at=timezone.now()
        )
    except Exception:  # the database too: the lease still hands them to the sweep
        log.exception("could not hand %d deliveries to the sweep early", len(delivery_ids))


def delivery_events_send(*, delivery_ids: list[str]) -> int:
    """The console's delivery.update events for these rows, as they are now."""
    rows = list(Delivery.objects.filter(pk__in=delivery_ids).values(*DELIVERY_PAYLOAD_FIELDS))
    _announce_deliveries(rows)
    return len(rows)


@transaction.atomic
def briefing_acknowledge(*, briefing: Briefing, officer_id, actor, context: AuditContext | None = None) -> Delivery:
    """The officer has read the briefing: every one of their rows is acknowledged (idempotent)."""
    rows = list(
        Delivery.objects.select_for_update()
        .filter(briefing=briefing, officer_id=officer_id)
        .order_by("created_at", "id")
    )
    if not rows:
        raise NotFound("No such briefing.")
    done = [(r.acknowledged_at, r) for r in rows if r.acknowledged_at]
    if done:
        return min(done, key=lambda pair: pair[0])[1]
    now = timezone.now()
    Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(
        state=DeliveryState.ACKNOWLEDGED, acknowledged_at=now, updated_at=now
    )
    for row in rows:
        row.state, row.acknowledged_at, row.updated_at = DeliveryState.ACKNOWLEDGED, now, now
    audit_record(
        action="briefing.acknowledge",
        actor=actor,
        obj=briefing,
        context=context,
        details={"officer": str(officer_id), "deliveries": [str(r.pk) for r in rows]},
    )
    _announce_deliveries(rows)
    return rows[0]


# Sending -------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Sending:
    pk: uuid.UUID
    briefing_id: uuid.UUID
    device_id: uuid.UUID | None
    token: str
    attempts: int
    officer_id: uuid.UUID | None = None
    leased_until: datetime | None = None  # the lease _claim wrote (renewed only while it stands)


def _claim(ids: list[str], *, initial: bool) -> list[_Sending]:
    """The queued rows among ids to send now, each with the number of the attempt it is, leased
    to this send (conf.push_send_lease(), renewed while it sends: _lease_kept) in the statement
    that takes them, so that no other task or sweep sends them at the same time.

    First send: rows never tried whose creation lease (conf.push_stale_after()) has at least half
    its time left (a first send that comes later than that leaves them to the sweep). Retries and
    the sweep: rows whose retry time or lease has passed.
    """
    now = timezone.now()
    lease = now + conf.push_send_lease()
    if initial:
        # Never claimed (updated_at is still created_at) and not handed to the sweep.
        condition = "attempts = 0 AND updated_at = created_at AND next_attempt_at > %s"
        params = [now + conf.push_stale_after() / 2]
        due = Delivery.objects.filter(attempts=0, updated_at=F("created_at"), next_attempt_at__gt=params[0])
        counted = 0  # the first send's attempt is counted with its outcome (_record)
    else:
        condition, params = "next_attempt_at <= %s", [now]
        due = Delivery.objects.filter(next_attempt_at__lte=now)
        counted = 1
    if connection.vendor == "postgresql":  # row locks make concurrent claimers skip rows already taken
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Delivery._meta.db_table} SET attempts = attempts + {counted}, next_attempt_at = %s,"  # noqa: S608 - constants only
                f" updated_at = %s WHERE id = ANY(%s) AND state = %s AND {condition}"
                " RETURNING id, briefing_id, device_id, token, attempts, officer_id",
                [lease, now, [uuid.UUID(str(i)) for i in ids], DeliveryState.QUEUED.value, *params],
            )
            return [
                _Sending(pk, briefing, device, token, attempts + 1 - counted, officer, lease)
                for pk, briefing, device, token, attempts, officer in cursor.fetchall()
            ]
    with transaction.atomic():  # SQLite: IMMEDIATE transactions serialize writers
        due = due.filter(pk__in=ids, state=DeliveryState.QUEUED)
        rows = [
            _Sending(pk, briefing, device, token, attempts + 1, officer, lease)
            for pk, briefing, device, token, attempts, officer in due.values_list(
                "id", "briefing_id", "device_id", "token", "attempts", "officer_id"
            )
        ]
        if rows:
            Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(
                attempts=F("attempts") + counted, next_attempt_at=lease, updated_at=now
            )
    return rows


@contextlib.contextmanager
def _lease_kept(rows: list[_Sending]):
    """While the block sends these rows (FCM may take up to a minute for a batch), their lease is
    renewed every third of it from a thread of its own; a worker killed mid-send stops renewing,
    and the sweep takes them once the lease has run out, not minutes later."""
    if not rows:  # nothing to hold: no thread
        yield
        return
    ids, every = [row.pk for row in rows], conf.push_send_lease().total_seconds() / 3
    leased_until = rows[0].leased_until
    done = threading.Event()

    def renew() -> None:
        nonlocal leased_until
        try:
            while leased_until is not None and not done.wait(every):
                # Only while the lease this send wrote stands: not one the sweep has since taken,
                # nor the retry time the send recorded when FCM answered.
                renewed = timezone.now() + conf.push_send_lease()
                try:
                    if not Delivery.objects.filter(
                        pk__in=ids, state=DeliveryState.QUEUED, next_attempt_at=leased_until
                    ).update(next_attempt_at=renewed):
                        return
                    leased_until = renewed
                except Exception:  # the database away for a moment: tried again at the next turn
                    log.warning("could not renew the lease of %d deliveries being sent", len(ids), exc_info=True)
        finally:
            connection.close()

    renewer = threading.Thread(target=renew, name="push-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join(timeout=30)


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with a little jitter; FCM's Retry-After wins when it is longer."""
    backoff = min(conf.push_backoff_max(), conf.push_backoff_base() * 2 ** max(0, attempts - 1))
    backoff *= 1 + random.random() * 0.1
    return max(backoff, retry_after or 0.0)


def _retire_token(row: _Sending, token: str, code: str) -> None:
    if row.device_id is None:
        return
    retired = Device.objects.filter(
        pk=row.device_id, push_token_hash=hashlib.sha256(token.encode()).hexdigest()
    ).update(push_token=None, push_token_hash=None, push_token_updated_at=timezone.now())
    if retired:
        audit_record(
            action="device.push_token_retire",
            obj=None,
            object_type="device",
            object_id=row.device_id,
            details={
                "reason": code,
                "token_sha256": hashlib.sha256(token.encode()).hexdigest()[:16],
                "briefing": str(row.briefing_id),
            },
        )


def _record(rows: list[_Sending], results: list[PushResult], *, initial: bool) -> dict:
    """Writes each outcome (and, for a first send, counts the attempt); returns
    {delivery_id: seconds} for the ones to try again."""
    now = timezone.now()
    counted = {"attempts": F("attempts") + 1} if initial else {}
    sent: list = []
    final: dict[tuple[str, str], list] = defaultdict(list)  # (state, error) -> ids
    retry: dict[str, float] = {}
    retry_groups: dict[tuple[str, float], list] = defaultdict(list)
    for row, result in zip(rows, results, strict=True):
        if result.ok:
            sent.append(row.pk)
        elif result.retire_token:
            final[(DeliveryState.UNREGISTERED, result.error_code or "UNREGISTERED")].append(row.pk)
            _retire_token(row, row.token, result.error_code or "")
        elif result.retry and row.attempts < conf.push_max_attempts():
            delay = retry_delay(row.attempts, result.retry_after)
            retry[str(row.pk)] = delay
            retry_groups[(result.error_code or "UNAVAILABLE", round(delay, 2))].append(row.pk)
        else:
            final[(DeliveryState.FAILED, result.error_code or "error")].append(row.pk)
    with transaction.atomic():
        if sent and connection.vendor == "postgresql":
            # the bulk of every batch: one statement that also returns what the console needs
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Delivery._meta.db_table} SET state = %s, sent_at = %s, updated_at = %s, error = '',"  # noqa: S608 - constants only
                    f" next_attempt_at = NULL, attempts = attempts + {1 if initial else 0}"
                    " WHERE id = ANY(%s) AND state = %s"
                    f" RETURNING {', '.join(DELIVERY_PAYLOAD_FIELDS)}",
                    [DeliveryState.SENT.value, now, now, sent, DeliveryState.QUEUED.value],
                )
                names = [c.name for c in cursor.description]
                _announce_deliveries([dict(zip(names, r, strict=True)) for r in cursor.fetchall()])
            sent = []  # recorded, and told
        elif sent:
            Delivery.objects.filter(pk__in=sent, state=DeliveryState.QUEUED).update(
                state=DeliveryState.SENT, sent_at=now, updated_at=now, error="", next_attempt_at=None, **counted
            )
        for (state, error), ids in final.items():
            Delivery.objects.filter(pk__in=ids, state=DeliveryState.QUEUED).update(
                state=state, error=error[:200], updated_at=now, next_attempt_at=None, **counted
            )
        for (error, delay), ids in retry_groups.items():
            Delivery.objects.filter(pk__in=ids, state=DeliveryState.QUEUED).update(
                error=error[:200], updated_at=now, next_attempt_at=now + timedelta(seconds=delay), **counted
            )
        changed = [str(pk) for pk in sent + [pk for ids in final.values() for pk in ids]]
        if changed:
            transaction.on_commit(lambda: delivery_events_send(delivery_ids=changed))
    return retry


def _still_theirs(rows: list[_Sending]) -> tuple[list[_Sending], list[tuple[_Sending, PushResult]]]:
    """(the rows to push now, each to its phone's current token; the rows whose phone may no
    longer get the briefing, each with its outcome). A briefing is meant for the officer's phone
    as it stood when it was written: a phone revoked (lost), handed to another officer or back in
    the pool since, or whose push token was retired, gets nothing, however late the push goes out
    (FCM down, a worker stopped)."""
    phones: dict[Any, tuple[Any, Any, str | None]] = {
        pk: (revoked_at, officer_id, push_token)
        for pk, revoked_at, officer_id, push_token in Device.objects.filter(
            pk__in={row.device_id for row in rows if row.device_id is not None}
        ).values_list("id", "revoked_at", "officer_id", "push_token")
    }
    send, refused = [], []
    for row in rows:
        phone = phones.get(row.device_id)
        if phone is None or phone[0] is not None:
            error: str | None = "device_revoked"  # revoked (a device row is never deleted)
        elif phone[1] != row.officer_id:
            error = "device_reassigned"
        elif not phone[2]:
            error = "no_push_token"
        else:
            error = None
        if error is not None or phone is None:
            refused.append((row, PushResult(token=row.token, ok=False, error_code=error)))
            continue
        token = phone[2] or ""
        if token != row.token:  # the phone registered again since: its current token
            Delivery.objects.filter(pk=row.pk).update(token=token)
            row.token = token
        send.append(row)
    return send, refused


def _messages(rows: list[_Sending]) -> list[PushMessage]:
    briefings = {b.pk: b for b in Briefing.objects.filter(pk__in={r.briefing_id for r in rows})}
    templates = {pk: notification.message_for(b) for pk, b in briefings.items()}
    return [dataclasses.replace(templates[r.briefing_id], token=r.token) for r in rows]


def deliveries_send(*, delivery_ids: list[str], initial: bool = False) -> dict[str, int]:
    """Sends the due ones among these deliveries and records each outcome.

    Short waits (flaky or rate-limited answers) are slept off here, up to
    conf.push_inline_retry_budget() in all; longer ones go back to the broker with a countdown
    (or, when tasks run in process, to the periodic sweep).
    """
    from celery import current_app

    deadline = time.monotonic() + conf.push_inline_retry_budget()
    ids, counts = list(map(str, delivery_ids)), {"sent": 0, "retry": 0, "other": 0}
    while ids:
        started = time.monotonic()
        rows = _claim(ids, initial=initial)
        if not rows:
            break
        rows, refused = _still_theirs(rows)
        claimed = time.monotonic()
        with _lease_kept(rows):
            results = push.send_batch(_messages(rows)) if rows else []
        pushed = time.monotonic()
        retry = _record(
            [*rows, *(row for row, _ in refused)], [*results, *(result for _, result in refused)], initial=initial
        )
        initial = False
        sent_now = sum(1 for r in results if r.ok)
        log.info(
            "push: %d deliveries, %d sent, %d to retry (claim %.0f ms, send %.0f ms, record %.0f ms)",
            len(rows),
            sent_now,
            len(retry),
            (claimed - started) * 1000,
            (pushed - claimed) * 1000,
            (time.monotonic() - pushed) * 1000,
        )
        counts["sent"] += sent_now
        counts["other"] += len(rows) + len(refused) - sent_now - len(retry)
        if not retry:
            break
        wait = max(retry.values())
        if time.monotonic() + wait > deadline:
            counts["retry"] = len(retry)
            if not current_app.conf.task_always_eager:
                enqueue_sends(list(retry), countdown=wait + 0.05)
            break
        time.sleep(wait + 0.01)
        ids = list(retry)
    return counts


def deliveries_sweep(*, limit: int = 20_000) -> int:
    """Queues every delivery whose retry time or lease has passed (lost tasks, broker or FCM down)."""
    due = [str(pk) for pk in selectors.deliveries_due(limit=limit)]
    if due:
        enqueue_sends(due)
    return len(due)
