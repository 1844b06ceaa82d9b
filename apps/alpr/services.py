"""Every write of the plate-reader app: reads and their matching, hotlists and entries, hit
review and briefing, read retention."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.accounts.models import User
from apps.audit.services import AuditContext, audit_record
from apps.briefings import services as briefing_services
from apps.briefings.models import Briefing
from apps.core import plates
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.fields import OUT_OF_RANGE, in_utc, rfc3339_text
from apps.core.locks import advisory_lock
from apps.core.realtime import console_send_after_commit, console_send_many_after_commit
from apps.core.text import text_problem
from apps.counters import names as counted
from apps.counters.services import counter_add, counters_add
from apps.devices.models import Device
from apps.integrations import leftovers
from apps.integrations.storage import atomic_with_objects, get_storage

from . import conf, images, partitions
from .models import Entry, Hit, HitState, Hotlist, Match, Read, ReadCount, Source
from .payloads import hit_payload

log = logging.getLogger(__name__)


# Reads and matching --------------------------------------------------------------------------


def _live_entries(now: datetime):
    return Entry.objects.filter(removed_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def _states_agree(read_state: str, entry_state: str) -> bool:
    return not (read_state and entry_state and read_state != entry_state)


def _pairs(reads: list[Read], entries: list[Entry]) -> list[tuple[Read, Entry, str]]:
    """(read, entry, match) for every hit among these reads and entries; one per pair, the
    strongest kind (exact, then similar, then candidate)."""
    by_plate: dict[str, list[Entry]] = defaultdict(list)
    by_folded: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_plate[entry.plate_normalized].append(entry)
        by_folded[entry.plate_folded].append(entry)
    out: list[tuple[Read, Entry, str]] = []
    for read in reads:
        seen: set = set()
        found = [(e, Match.EXACT) for e in by_plate.get(read.plate_normalized, ())]
        found += [(e, Match.SIMILAR) for e in by_folded.get(read.plate_folded, ())]
        for candidate in read.candidates or ():
            found += [(e, Match.CANDIDATE) for e in by_plate.get(candidate.get("plate_normalized", ""), ())]
        for entry, match in found:
            if entry.pk in seen or not _states_agree(read.plate_state, entry.plate_state):
                continue
            seen.add(entry.pk)
            out.append((read, entry, match))
    return out


def match_reads(reads: list[Read], *, now: datetime) -> list[tuple[Read, Entry, str]]:
    """The live entries these reads hit: one indexed query for the whole batch (normalized
    plates and candidates against the plate index, folded plates against the folded index)."""
    plates_ = {r.plate_normalized for r in reads}
    plates_ |= {c["plate_normalized"] for r in reads for c in (r.candidates or ()) if c.get("plate_normalized")}
    folded = {r.plate_folded for r in reads}
    entries = list(
        _live_entries(now)
        .filter(Q(plate_normalized__in=plates_) | Q(plate_folded__in=folded))
        .select_related("hotlist")
    )
    return _pairs(reads, entries) if entries else []


def _hits_for(pairs, *, now: datetime, historical: bool) -> list[Hit]:
    return [
        Hit(read=read, entry=entry, hotlist=entry.hotlist, match=match, historical=historical, created_at=now)
        for read, entry, match in pairs
    ]


def _announce(hits: list[Hit]) -> None:
    by_read: dict = defaultdict(list)
    for hit in hits:
        by_read[hit.read_id].append(hit.pk)
    # batched: an import that finds many historical hits costs the channel layer few messages
    console_send_many_after_commit("hit.new", [hit_payload(h, read_hits=by_read[h.read_id]) for h in hits])


# On PostgreSQL a batch of reads is matched and stored holding this lock shared, and a change
# that adds entries takes it exclusively before it looks back at the stored reads (and holds it to
# its commit): every read is then either seen by the look-back or matched against the new entries.
# A read matched while an import was being written, and stored after the import's look-back, was
# seen by neither, and missed its hit for good. Readers wait only for the look-back and the commit,
# not for the entries to be written.
LISTS_LOCK = "alpr:lists"


def _hold_lists(*, exclusive: bool) -> None:
    advisory_lock(LISTS_LOCK, shared=not exclusive)


def _lock_list(hotlist_id) -> None:
    """The list's row, FOR NO KEY UPDATE: one add, removal or import per list at a time, taken
    before its entries (a removal that took the entry first deadlocked with a replace import),
    while a read's hit on the list (its foreign key's key-share lock) does not wait for it."""
    Hotlist.objects.select_for_update(no_key=True).filter(pk=hotlist_id).first()


def _count(*, day, received: int = 0, deleted: int = 0) -> None:
    """Adds to the day's durable counters (one upsert), and to the transparency report's counters."""
    if not (received or deleted):
        return
    counters_add(counts={counted.PLATE_READS_RECEIVED: received, counted.PLATE_READS_DELETED: deleted})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO alpr_readcount AS c (day, received, deleted) VALUES (%s, %s, %s) "
                "ON CONFLICT (day) DO UPDATE SET received = c.received + EXCLUDED.received, "
                "deleted = c.deleted + EXCLUDED.deleted",
                [day, received, deleted],
            )
        return
    ReadCount.objects.get_or_create(day=day)
    ReadCount.objects.filter(day=day).update(received=F("received") + received, deleted=F("deleted") + deleted)


READ_COLUMNS = (
    "id",
    "reader_id",
    "read_id",
    "plate",
    "plate_normalized",
    "plate_folded",
    "plate_state",
    "confidence",
    "read_at",
    "received_at",
    "lat",
    "lon",
    "heading",
    "candidates",
    "vehicle",
    "image_key",
    "image_sha256",
    "image_size",
    "has_hit",
)


def _insert_reads(reads: list[Read]) -> None:
    """bulk_create, or on PostgreSQL one COPY (a third of the INSERT's time on the partitioned table)."""
    if not reads:
        return
    if connection.vendor != "postgresql":
        Read.objects.bulk_create(reads)
        return
    columns = ", ".join(READ_COLUMNS)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY alpr_read ({columns}) FROM STDIN") as copy:
        for r in reads:
            copy.write_row(
                (
                    r.id,
                    r.reader_id,
                    r.read_id,
                    r.plate,
                    r.plate_normalized,
                    r.plate_folded,
                    r.plate_state,
                    r.confidence,
                    r.read_at,
                    r.received_at,
                    r.lat,
                    r.lon,
                    r.heading,
                    json.dumps(r.candidates),
                    json.dumps(r.vehicle),
                    r.image_key,
                    r.image_sha256,
                    r.image_size,
                    r.has_hit,
                )
            )


def clean_images(reads: list[dict]) -> dict[int, images.CleanImage]:
    """Every read's image decoded and stripped, or one 400 naming the bad reads."""
    cleaned, errors = {}, {}
    for index, item in enumerate(reads):
        if item.get("image"):
            try:
                cleaned[index] = images.clean_base64_jpeg(item["image"])
            except images.BadImage as exc:
                errors[f"reads.{index}.image"] = [f"Read {item.get('read_id')!r}: {exc}."]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    return cleaned


def read_ingest(
    *, reader: Device, reads: list[dict], context: AuditContext | None = None
) -> tuple[int, int, list[Hit]]:
    """Stores a validated batch once per (reader, read_id) and matches it, in one transaction.

    Returns (accepted, duplicates, hits). Hits go to the console (`hit.new`) after commit."""
    cleaned = clean_images(reads)
    now = timezone.now()
    # The store failing is a 503 that rolls the batch back, its images already stored deleted
    # again: the reader sends the batch again.
    with atomic_with_objects() as objects:
        # batches of one reader one at a time: read_id stays unique across partitions
        advisory_lock(f"alpr:{reader.pk}")
        wanted = [item["read_id"] for item in reads]
        stored = set(Read.objects.filter(reader=reader, read_id__in=wanted).values_list("read_id", flat=True))
        fresh: list[Read] = []
        for index, item in enumerate(reads):
            if item["read_id"] in stored:
                continue
            stored.add(item["read_id"])
            normalized = plates.normalize(item["plate"])
            location = item.get("location") or (
                {"lat": reader.lat, "lon": reader.lon} if reader.lat is not None else None
            )
            read = Read(
                id=uuid.uuid4(),
                reader=reader,
                read_id=item["read_id"],
                plate=item["plate"],
                plate_normalized=normalized,
                plate_folded=plates.fold(normalized),
                plate_state=item.get("plate_state") or "",
                confidence=item.get("confidence"),
                read_at=item["read_at"],
                received_at=now,
                lat=location["lat"] if location else None,
                lon=location["lon"] if location else None,
                heading=item.get("heading"),
                candidates=[
                    {
                        "plate": c["plate"],
                        "plate_normalized": plates.normalize(c["plate"]),
                        "confidence": c.get("confidence"),
                    }
                    for c in item.get("candidates") or ()
                ],
                vehicle={k: v for k, v in (item.get("vehicle") or {}).items() if v not in (None, "")},
            )
            image = cleaned.get(index)
            if image is not None:
                read.image_key = f"alpr/reads/{read.read_at:%Y%m%d}/{read.pk}.jpg"
                objects.put(read.image_key, image.data, content_type="image/jpeg")
                read.image_sha256, read.image_size = image.sha256, len(image.data)
            fresh.append(read)
        # Held from the match to the commit, taken after the images went to the store: an import
        # waiting for its look-back does not wait on a slow store (and the readers queued behind
        # it with it).
        _hold_lists(exclusive=False)
        pairs = match_reads(fresh, now=now) if fresh else []
        for read, _, _ in pairs:
            read.has_hit = True
        _insert_reads(fresh)
        hits = _hits_for(pairs, now=now, historical=False)
        Hit.objects.bulk_create(hits)
        counter_add(name=counted.hit("new"), n=len(hits), at=now)
        _announce(hits)
        _count(day=now.date(), received=len(fresh))
    return len(fresh), len(reads) - len(fresh), hits


# Hotlists and entries ------------------------------------------------------------------------


@transaction.atomic
def hotlist_create(
    *, actor: User, name: str, source: str, priority: int = 50, context: AuditContext | None = None
) -> Hotlist:
    hotlist = Hotlist.objects.create(name=name, source=source, priority=priority, created_by=actor)
    audit_record(
        action="hotlist.create",
        actor=actor,
        obj=hotlist,
        context=context,
        details={"name": name, "source": source, "priority": priority},
    )
    return hotlist


def entry_check(
    *, hotlist: Hotlist, plate: str, plate_state: str = "", expires_at: datetime | None = None, now: datetime
) -> dict[str, list[str]]:
    """Why an entry would be refused, by field ({} when it is fine)."""
    errors: dict[str, list[str]] = {}
    if problem := plates.plate_problem(plate):
        errors["plate"] = [problem]
    if problem := plates.state_problem(plate_state):
        errors["plate_state"] = [problem]
    if hotlist.source == Source.LOCAL:
        if expires_at is None:
            errors["expires_at"] = ["Entries of a local list must expire: give expires_at."]
        elif expires_at <= now or expires_at > conf.local_expiry_limit(now):
            errors["expires_at"] = ["Must be in the future and within a year."]
    elif expires_at is not None and expires_at <= now:
        errors["expires_at"] = ["Must be in the future."]
    return errors


def _new_entry(*, hotlist: Hotlist, actor: User, now: datetime, **fields) -> Entry:
    normalized = plates.normalize(fields["plate"])
    return Entry(
        id=uuid.uuid4(),
        hotlist=hotlist,
        plate=fields["plate"],
        plate_normalized=normalized,
        plate_folded=plates.fold(normalized),
        plate_state=(fields.get("plate_state") or "").upper(),
        reason=fields["reason"],
        case_number=fields.get("case_number") or "",
        expires_at=fields.get("expires_at"),
        note=fields.get("note") or "",
        vehicle=fields.get("vehicle") or {},
        created_by=actor,
        created_at=now,
    )


HISTORICAL_CHUNK = 1000


def _reads_of_plates(entries: list[Entry]) -> list[Read]:
    """The reads kept whose normalized or folded plate is one of these entries'.

    On PostgreSQL in ONE statement, each set of plates one array parameter: the import holds the
    lock every reader's batch waits for (exclusive) while it looks back, and asked 1,000 entries at a
    time, each ask scanned every day partition (its IN list too long for the indexes to look
    cheaper): a nightly list of 50,000 kept the readers waiting 78 s over 3 million reads. One
    statement reads the partitions once, or probes their indexes, whichever PostgreSQL finds cheaper."""
    normalized = sorted({e.plate_normalized for e in entries})
    folded = sorted({e.plate_folded for e in entries})
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Read._meta.db_table)
        sql = f"SELECT * FROM {table} WHERE plate_normalized = ANY(%s) OR plate_folded = ANY(%s)"  # noqa: S608
        return list(Read.objects.raw(sql, [normalized, folded]))
    reads: dict = {}
    for start in range(0, max(len(normalized), len(folded)), HISTORICAL_CHUNK):  # bounded query parameters
        chunk = Q(plate_normalized__in=normalized[start : start + HISTORICAL_CHUNK])
        chunk |= Q(plate_folded__in=folded[start : start + HISTORICAL_CHUNK])
        reads.update((read.pk, read) for read in Read.objects.filter(chunk))
    return list(reads.values())


def _not_raised_before(pairs: list[tuple[Read, Entry, str]]) -> list[tuple[Read, Entry, str]]:
    """Leaves out a read that already hit the same plate (and state) on the same list through
    an earlier entry: a list replaced every night makes new entries for the same plates, and
    the reads they found (reviewed or not) must not be raised to the operators again."""
    if not pairs:
        return pairs
    read_ids = sorted({read.pk for read, _, _ in pairs})
    lists = {entry.hotlist_id for _, entry, _ in pairs}
    earlier: set = set()
    for start in range(0, len(read_ids), HISTORICAL_CHUNK):  # bounded query parameters
        earlier.update(
            Hit.objects.filter(
                read_id__in=read_ids[start : start + HISTORICAL_CHUNK], hotlist_id__in=lists
            ).values_list("read_id", "hotlist_id", "entry__plate_normalized", "entry__plate_state")
        )
    return [
        (read, entry, match)
        for read, entry, match in pairs
        if (read.pk, entry.hotlist_id, entry.plate_normalized, entry.plate_state) not in earlier
    ]


def match_historical(entries: list[Entry], *, now: datetime) -> list[Hit]:
    """Hits of new entries on the reads still kept (marked historical)."""
    reads = _reads_of_plates(entries)
    hits = _hits_for(_not_raised_before(_pairs(reads, entries)), now=now, historical=True) if reads else []
    if hits:
        Hit.objects.bulk_create(hits)
        counter_add(name=counted.hit("new"), n=len(hits), at=now)
        Read.objects.filter(pk__in={h.read_id for h in hits}, has_hit=False).update(has_hit=True)
        _announce(hits)
    return hits


@transaction.atomic
def entry_add(*, actor: User, hotlist: Hotlist, context: AuditContext | None = None, **fields) -> Entry:
    now = timezone.now()
    errors = entry_check(
        hotlist=hotlist,
        plate=fields["plate"],
        plate_state=fields.get("plate_state") or "",
        expires_at=fields.get("expires_at"),
        now=now,
    )
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    entry = _new_entry(hotlist=hotlist, actor=actor, now=now, **fields)
    # The same entry twice on one list would hit every read of the plate twice (an import skips
    # such lines): one add or import at a time per list, and the same entry is a 409.
    _lock_list(hotlist.pk)
    key = _entry_key(entry.plate_normalized, entry.plate_state, entry.reason, entry.case_number, entry.expires_at)
    held = Entry.objects.filter(hotlist=hotlist, removed_at__isnull=True, plate_normalized=entry.plate_normalized)
    for row in held.values_list("id", "plate_normalized", "plate_state", "reason", "case_number", "expires_at"):
        if _entry_key(*row[1:]) == key:
            raise Conflict(
                "The same entry is already on the list.", code="already_on_list", extra={"entry": str(row[0])}
            )
    entry.save(force_insert=True)
    Hotlist.objects.filter(pk=hotlist.pk).update(updated_at=now)
    _hold_lists(exclusive=True)
    hits = match_historical([entry], now=now)
    audit_record(
        action="hotlist.entry_add",
        actor=actor,
        obj=entry,
        context=context,
        details={
            "hotlist": str(hotlist.pk),
            "plate": entry.plate_normalized,
            "plate_state": entry.plate_state,
            "reason": entry.reason,
            "case_number": entry.case_number,
            "expires_at": entry.expires_at,
            "historical_hits": len(hits),
        },
    )
    return entry


@transaction.atomic
def entry_remove(*, actor: User, entry: Entry, context: AuditContext | None = None) -> None:
    now = timezone.now()
    _lock_list(entry.hotlist_id)
    if not Entry.objects.filter(pk=entry.pk, removed_at__isnull=True).update(removed_at=now):
        # Removed by another request since this one read it (a double click): that one did it.
        raise NotFound("No such entry on this hotlist.")
    Hotlist.objects.filter(pk=entry.hotlist_id).update(updated_at=now)
    audit_record(
        action="hotlist.entry_remove",
        actor=actor,
        obj=entry,
        context=context,
        details={"hotlist": str(entry.hotlist_id), "plate": entry.plate_normalized},
    )


IMPORT_COLUMNS = ["plate", "plate_state", "reason", "case_number", "expires_at"]


def _csv_lines(text: str) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """(number of its first line, cells or why it is not CSV) for each record of the file. A quoted
    field may run over line breaks, as CSV allows; a record that is not CSV (a quote left open,
    text after a closing quote) is reported on its first line, and the reading starts again on the
    line after it: a stray quote never swallows the lines after it (they were lost from an import
    without a word)."""
    starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]  # where each line begins
    line = 0  # the first line (from 0) of the text the current reader reads
    while line < len(starts):
        reader = csv.reader(io.StringIO(text[starts[line] :], newline=""), strict=True)
        read = 0  # lines this reader has consumed
        while True:
            first = line + read + 1  # the record's first line, counted from 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield first, exc
                line = first  # again from the line after the record's first
                break
            read = reader.line_num
            yield first, row


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _parse_import(*, hotlist: Hotlist, data: bytes, now: datetime) -> tuple[list[dict], list[dict]]:
    """(good rows, rejected lines) of a CSV import; raises 400 on a file that is not one."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The file is not UTF-8 text.", fields={"file": ["Not UTF-8 text."]}) from None
    records = _csv_lines(text)
    try:
        _, header = next(records)
    except StopIteration:
        raise InvalidInput("The file is empty.", fields={"file": ["Empty: a header row is required."]}) from None
    if isinstance(header, csv.Error):
        raise InvalidInput(f"The file is not CSV: {header}.", fields={"file": [str(header)]})
    header = [h.strip().lower() for h in header]
    if header[: len(IMPORT_COLUMNS)] != IMPORT_COLUMNS:
        raise InvalidInput(
            "The header row must be plate,plate_state,reason,case_number,expires_at.",
            fields={"file": ["Header must be: " + ",".join(IMPORT_COLUMNS)]},
        )
    good, rejected = [], []
    separators_only: list[int] = []
    first_line: dict[tuple, int] = {}
    for line, row in records:
        if isinstance(row, csv.Error):
            rejected.append({"line": line, "error": f"not CSV: {row}"})
            continue
        if not any(cell.strip() for cell in row):
            if row:  # cells with nothing in them (",,,,", as spreadsheets export): see below
                separators_only.append(line)
            continue
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
            # `X1,NY,armed, dangerous,,`: an unquoted comma shifts every field after it (the case
            # number would read "dangerous"), and the last one was dropped without a word.
            rejected.append(
                {
                    "line": line,
                    "error": f"{len(row)} fields, the header has {len(header)}: quote a field that holds a comma",
                }
            )
            continue
        if len(row) < len(IMPORT_COLUMNS):
            row = row + [""] * (len(IMPORT_COLUMNS) - len(row))
        fields = dict(zip(IMPORT_COLUMNS, (cell.strip() for cell in row), strict=False))
        if problem := next(filter(None, (text_problem(value) for value in fields.values())), None):
            rejected.append({"line": line, "error": problem})  # PostgreSQL's text cannot hold a NUL
            continue
        expires_at = None
        if fields["expires_at"]:
            try:
                expires_at = parse_datetime(rfc3339_text(fields["expires_at"]))
            except ValueError:
                expires_at = None
            if expires_at is None or expires_at.tzinfo is None:
                rejected.append({"line": line, "error": "expires_at: not a time with a zone (RFC 3339)"})
                continue
            if in_utc(expires_at) is None:
                rejected.append({"line": line, "error": f"expires_at: {OUT_OF_RANGE}"})
                continue
        if not fields["reason"]:
            rejected.append({"line": line, "error": "reason: required"})
            continue
        if len(fields["reason"]) > 200 or len(fields["case_number"]) > 64:
            rejected.append({"line": line, "error": "reason or case_number too long"})
            continue
        errors = entry_check(
            hotlist=hotlist, plate=fields["plate"], plate_state=fields["plate_state"], expires_at=expires_at, now=now
        )
        if errors:
            name, messages = next(iter(errors.items()))
            rejected.append({"line": line, "error": f"{name}: {messages[0]}"})
            continue
        # The same entry twice in one file (an export that repeats a line) would hit every read
        # of the plate twice from one list: the repeat is reported, the first kept.
        same = _entry_key(
            plates.normalize(fields["plate"]),
            fields["plate_state"],
            fields["reason"],
            fields["case_number"],
            expires_at,
        )
        if same in first_line:
            rejected.append({"line": line, "error": f"the same entry as line {first_line[same]}"})
            continue
        first_line[same] = line
        good.append({**fields, "expires_at": expires_at, "line": line, "key": same})
    if not good and not rejected:
        # Lines of empty cells are skipped beside real ones; a file of nothing else is not the
        # header-only file that empties a list on purpose, and a replace must not empty it.
        rejected = [{"line": n, "error": "no values, only separators"} for n in separators_only]
    return good, rejected


PARSED = ("line", "key")  # what _parse_import adds to each line's fields: its number, its _entry_key


def _entry_key(plate_normalized: str, plate_state: str, reason: str, case_number: str, expires_at) -> tuple:
    """What makes two entries of one list the same entry (they would hit one read twice)."""
    return (plate_normalized, plate_state.upper(), reason, case_number, expires_at)


def _not_on_the_list(hotlist: Hotlist, good: list[dict], rejected: list[dict]) -> list[dict]:
    """The lines of `good` whose entry the list does not hold yet; the others join `rejected`."""
    on_list = set()
    wanted = sorted({fields["key"][0] for fields in good})  # the normalized plates
    for start in range(0, len(wanted), 1000):
        for row in Entry.objects.filter(
            hotlist=hotlist, removed_at__isnull=True, plate_normalized__in=wanted[start : start + 1000]
        ).values_list("plate_normalized", "plate_state", "reason", "case_number", "expires_at"):
            on_list.add(_entry_key(*row))
    kept = []
    for fields in good:
        if fields["key"] in on_list:
            rejected.append({"line": fields["line"], "error": "the same entry is already on the list"})
        else:
            kept.append(fields)
    rejected.sort(key=lambda r: r["line"])
    return kept


def entries_import(
    *, actor: User, hotlist: Hotlist, data: bytes, mode: str = "append", context: AuditContext | None = None
) -> dict:
    """Imports a CSV; `replace` swaps the whole list in one transaction (readers never see it
    half-empty). Rejected lines are reported, the others imported."""
    now = timezone.now()
    good, rejected = _parse_import(hotlist=hotlist, data=data, now=now)
    if mode == "replace" and rejected and not good:
        # A file none of whose lines could be used is a bad export, not an empty list: a live
        # list is never swapped for nothing by mistake (a file with only the header empties it).
        raise InvalidInput(
            "No line of the file could be imported; the list is unchanged.",
            code="nothing_imported",
            fields={"file": [f"line {r['line']}: {r['error']}" for r in rejected[:20]]},
            extra={"rejected": rejected},
        )
    with transaction.atomic():
        _lock_list(hotlist.pk)
        removed = 0
        if mode == "replace":
            removed = Entry.objects.filter(hotlist=hotlist, removed_at__isnull=True).update(removed_at=now)
        else:  # appending the same file twice must not put each entry on the list twice
            good = _not_on_the_list(hotlist, good, rejected)
        entries = [
            _new_entry(hotlist=hotlist, actor=actor, now=now, **{k: v for k, v in fields.items() if k not in PARSED})
            for fields in good
        ]
        Entry.objects.bulk_create(entries, batch_size=5000)
        _hold_lists(exclusive=True)
        hits = match_historical(entries, now=now)
        Hotlist.objects.filter(pk=hotlist.pk).update(updated_at=now, last_import_at=now)
        audit_record(
            action="hotlist.import",
            actor=actor,
            obj=hotlist,
            context=context,
            details={
                "mode": mode,
                "imported": len(entries),
                "rejected": len(rejected),
                "removed": removed,
                "historical_hits": len(hits),
            },
        )
    return {"imported": len(entries), "rejected": rejected}


# Hits ----------------------------------------------------------------------------------------


def _locked_hit(hit: Hit) -> Hit:
    """The hit's row locked, and its entry's with FOR NO KEY UPDATE: a removal or a replace import
    and the review wait for each other, while a read that hits the same entry meanwhile (its
    foreign key takes a key-share lock) waits for neither. The list's own row is not locked."""
    locked = Hit.objects.select_for_update(of=("self",)).select_related("read", "entry", "hotlist").get(pk=hit.pk)
    locked.entry = Entry.objects.select_for_update(no_key=True).get(pk=locked.entry_id)
    return locked


def _hit_update(hit: Hit) -> None:
    console_send_after_commit("hit.update", hit_payload(hit))


def _entry_current(hit: Hit, now: datetime) -> bool:
    """Whether the list still names the hit's plate: its entry, or the entry a replace import
    made for the same plate and state, is neither removed nor expired."""
    entry = hit.entry
    if entry.removed_at is None and (entry.expires_at is None or entry.expires_at > now):
        return True
    return (
        _live_entries(now)
        .filter(hotlist_id=hit.hotlist_id, plate_normalized=entry.plate_normalized, plate_state=entry.plate_state)
        .exists()
    )


def _refuse_unless_current(hit: Hit, now: datetime) -> None:
    if not _entry_current(hit, now):
        raise Conflict(
            "The hotlist no longer names this plate (its entry was removed or has expired):"
            " reject the hit as not_current.",
            code="entry_not_current",
        )


@transaction.atomic
def hit_confirm(*, actor: User, hit: Hit, note: str = "", context: AuditContext | None = None) -> Hit:
    hit = _locked_hit(hit)
    if hit.state != HitState.NEW:
        raise Conflict(f"This hit is already {hit.state}.", code="hit_reviewed")
    now = timezone.now()
    _refuse_unless_current(hit, now)
    hit.state, hit.reviewed_by, hit.reviewed_at, hit.note = HitState.CONFIRMED, actor, now, note
    hit.save(update_fields=["state", "reviewed_by", "reviewed_at", "note"])
    counter_add(name=counted.hit("confirmed"), at=hit.reviewed_at)
    audit_record(
        action="hit.confirm",
        actor=actor,
        obj=hit,
        context=context,
        details={
            "plate": hit.read.plate_normalized,
            "entry": str(hit.entry_id),
            "match": hit.match,
            "seconds_to_review": round((hit.reviewed_at - hit.created_at).total_seconds(), 3),
            "note": note,
        },
    )
    _hit_update(hit)
    return hit


@transaction.atomic
def hit_reject(*, actor: User, hit: Hit, reason: str, note: str = "", context: AuditContext | None = None) -> Hit:
    hit = _locked_hit(hit)
    if hit.state != HitState.NEW:
        raise Conflict(f"This hit is already {hit.state}.", code="hit_reviewed")
    hit.state, hit.reviewed_by, hit.reviewed_at = HitState.REJECTED, actor, timezone.now()
    hit.reject_reason, hit.note = reason, note
    hit.save(update_fields=["state", "reviewed_by", "reviewed_at", "reject_reason", "note"])
    counter_add(name=counted.hit("rejected"), at=hit.reviewed_at)
    audit_record(
        action="hit.reject",
        actor=actor,
        obj=hit,
        context=context,
        details={
            "plate": hit.read.plate_normalized,
            "reason": reason,
            "seconds_to_review": round((hit.reviewed_at - hit.created_at).total_seconds(), 3),
            "note": note,
        },
    )
    _hit_update(hit)
    return hit


def _brief_text(hit: Hit) -> tuple[str, str, dict]:
    read, entry = hit.read, hit.entry
    plate = entry.plate_normalized
    state = read.plate_state or entry.plate_state
    vehicle = {**(entry.vehicle or {}), **(read.vehicle or {})}
    title = f"Hotlist hit: {plate}" + (f" ({state})" if state else "")
    place = f"{read.lat:.5f},{read.lon:.5f}" if read.lat is not None else "unknown place"
    body = (
        f"{hit.hotlist.name}: {entry.reason}."
        + (f" Case {entry.case_number}." if entry.case_number else "")
        + f" Read {read.read_at:%Y-%m-%d %H:%M:%S} UTC at {place}."
    )
    item = {
        "plate": plate,
        "plate_state": state,
        "make": str(vehicle.get("make") or "")[:64],
        "model": str(vehicle.get("model") or "")[:64],
        "color": str(vehicle.get("color") or "")[:32],
    }
    if isinstance(vehicle.get("year"), int):
        item["year"] = vehicle["year"]
    return title, body, item


def _refuse_if_briefed(hit: Hit) -> None:
    """A hit is briefed once: a double click (or two operators) must not push twice. A briefing
    that reached no officer (no one near the read) does not count: brief it again, naming them."""
    if hit.briefing is not None and hit.briefing.recipients > 0:
        raise Conflict(
            f"This hit was already briefed to {hit.briefing.recipients} officer(s) (briefing {hit.briefing_id}).",
            code="hit_briefed",
            extra={"briefing": str(hit.briefing_id)},
        )


def hit_brief_audience(hit: Hit, audience: dict | None = None) -> dict:
    """Whom a hit's briefing goes to: the audience named, else the officers within the brief
    radius of the read (InvalidInput for a read with no location, which needs one named)."""
    if audience is not None:
        return audience
    read = hit.read
    if read.lat is None:
        fields = {"audience": ["Required for this hit."]}
        raise InvalidInput("This read has no location: name an audience.", fields=fields)
    return {"near": {"lat": read.lat, "lon": read.lon, "radius_m": conf.brief_radius_m()}}


def hit_brief(
    *,
    actor: User,
    hit: Hit,
    priority: str,
    audience: dict | None = None,
    body: str = "",
    base_url: str = "",
    context: AuditContext | None = None,
) -> Briefing:
    """A briefing to officers from a confirmed hit: the vehicle with the read's image as its
    photo, the place and time of the read; by default to officers near the read."""
    hit = Hit.objects.select_related("read", "entry", "hotlist", "briefing").get(pk=hit.pk)
    if hit.state != HitState.CONFIRMED:
        raise Conflict(
            "Only a confirmed hit can be briefed: compare the image with the plate and confirm it first.",
            code="hit_not_confirmed",
        )
    _refuse_unless_current(hit, timezone.now())
    _refuse_if_briefed(hit)
    read = hit.read
    audience = hit_brief_audience(hit, audience)
    title, text, vehicle = _brief_text(hit)
    if read.image_key:
        data = b"".join(get_storage().iter_bytes(read.image_key))
        photo = briefing_services.media_upload(actor=actor, data=data, context=context)
        vehicle["photo"] = photo.pk
    with transaction.atomic():
        # No join here: after waiting for the lock PostgreSQL re-reads the hit row, but a joined
        # briefing row would come from before the wait (None), and a second brief would pass.
        locked = Hit.objects.select_for_update().get(pk=hit.pk)
        _refuse_if_briefed(locked)  # a second click, or another operator, got there first
        briefing = briefing_services.briefing_create(
            actor=actor,
            priority=priority,
            title=title,
            body=f"{text} {body}".strip(),
            vehicles=[vehicle],
            audience=audience,
            base_url=base_url,
            context=context,
        )
        hit.briefing, hit.briefed_at = briefing, timezone.now()
        hit.save(update_fields=["briefing", "briefed_at"])
        audit_record(
            action="hit.brief",
            actor=actor,
            obj=hit,
            context=context,
            details={"briefing": str(briefing.pk), "priority": priority, "audience": briefing.audience},
        )
        _hit_update(hit)
    return briefing


# Retention -----------------------------------------------------------------------------------


EXPIRED = "plate read expired"


def reads_expire(*, now: datetime | None = None) -> int:
    """Deletes reads with no hit whose `read_at` is past the retention; returns how many.

    Whole daily partitions go at once (PostgreSQL); the rest in bounded batches, each its own
    transaction, within a time budget (the next run carries on). Deletions are counted per day."""
    now = now or timezone.now()
    cutoff = now - conf.read_retention()
    total = 0
    # Each deletion remembers its images as owed a delete in its own transaction (leftovers.intend),
    # and deletes them after its commit: a worker killed in between leaves them to the sweep.
    deleted, keys, _ = partitions.drop_partitions_before(
        cutoff, before_commit=lambda k: leftovers.intend(k, reason=EXPIRED)
    )
    if deleted:
        _count(day=now.date(), deleted=deleted)
        leftovers.delete_intended(keys, reason=EXPIRED)
        total += deleted
    partitions.ensure_partitions()
    started = time.monotonic()
    batch = conf.delete_batch()
    while time.monotonic() - started < conf.delete_time_budget():
        with transaction.atomic():
            _hold_lists(exclusive=False)  # not while an import looks back at these reads (it may hit one)
            rows = list(
                Read.objects.filter(read_at__lt=cutoff, has_hit=False).values_list("id", "read_at", "image_key")[:batch]
            )
            if not rows:
                break
            count = Read.objects.filter(
                pk__in=[r[0] for r in rows], read_at__in={r[1] for r in rows}, has_hit=False
            ).delete()[0]
            _count(day=now.date(), deleted=count)
            images = [r[2] for r in rows if r[2]]
            leftovers.intend(images, reason=EXPIRED)
        leftovers.delete_intended(images, reason=EXPIRED)  # once the rows are gone
        total += count
        if len(rows) < batch:
            break
    if total:
        log.info("alpr: %d reads past retention (%s) deleted", total, conf.read_retention())
    return total


def retention_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - conf.read_retention()
