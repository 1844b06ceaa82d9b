"""Every write of footage ingest: declare, part URLs, complete, verify, abort."""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import mimetypes
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.audit.services import AuditContext, audit_record
from apps.core.errors import Conflict, InvalidInput
from apps.devices.models import Assignment, Device
from apps.devices.selectors import assignee_at
from apps.devices.signals import command_sent_to_device
from apps.integrations import leftovers
from apps.integrations.storage import (
    NoSuchUploadError,
    ObjectMissingError,
    StorageError,
    StoredPart,
    get_storage,
    unavailable_on_failure,
)

from .. import conf
from ..models import Category, Clip, ClipState, Trigger
from ..transitions import clip_announce, clip_transition

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_CATEGORIES = {"uncategorized": ("Uncategorized", 180), "evidence": ("Evidence", None)}
# States after a successful complete: the upload is over, re-completing answers with the clip as it is.
COMPLETED = {ClipState.VERIFYING, ClipState.AVAILABLE, ClipState.CORRUPT}
# A device's requests about its upload are noted (Clip.upload_seen_at) at most this often: one
# write a minute per clip however often it asks, ample for a sweep that counts in days.
SEEN_EVERY = timedelta(seconds=60)


def _store():
    """Turns the object store failing (down, refusing, timing out) into a clean 503."""
    return unavailable_on_failure(retry_after=conf.storage_retry_after())


class UploadIncompleteError(Conflict):
    """`complete` before every part is in the store with its right size (409, listing what is missing)."""

    code = "upload_incomplete"

    def __init__(self, missing: list[int], *, message: str | None = None) -> None:
        shown = ", ".join(str(n) for n in missing[:20]) + (" ..." if len(missing) > 20 else "")
        super().__init__(message or f"{len(missing)} part(s) missing or of the wrong size: {shown}.")
        self.missing = missing


def plan_parts(size: int) -> tuple[int, int]:
    """(part_size, part_count): at least the minimum part size, raised (in whole MiB) so the
    clip never needs more than the store's part limit."""
    minimum, limit = conf.min_part_size(), conf.max_parts()
    part_size = max(minimum, math.ceil(size / limit))
    if part_size > minimum and part_size % MiB:
        part_size += MiB - part_size % MiB
    return part_size, max(1, math.ceil(size / part_size))


def category_get_or_default(slug: str | None = None) -> Category:
    """The category by slug; the default ones are recreated if someone emptied the table."""
    slug = slug or conf.default_category()
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        name, days = DEFAULT_CATEGORIES.get(slug, (slug.replace("-", " ").title(), None))
        category, _ = Category.objects.get_or_create(slug=slug, defaults={"name": name, "retention_days": days})
    return category


def retain_until_for(*, category: Category, started_at: datetime) -> datetime | None:
    if category.retention_days is None:
        return None
    return started_at + timedelta(days=category.retention_days)


def officer_at(device: Device, started_at: datetime, ended_at: datetime):
    """Whose recording this is, from the assignment history: the assignee when it started; else
    the officer assigned while it ran (the camera was handed out during the recording); else,
    when the camera had never been assigned before it, its first assignee (an officer who started
    recording before IT recorded the hand-out: a clip of a minute ago on a camera assigned
    seconds ago is theirs). A camera back in the pool when it recorded makes a clip of no officer.
    The current officer when the device has no history at all."""
    officer = assignee_at(device, started_at)
    if officer is not None:
        return officer
    history = Assignment.objects.filter(device=device)
    if not history.exists():
        return device.officer if device.officer_id else None
    handed = history.filter(started_at__gt=started_at).select_related("officer").order_by("started_at").first()
    if handed is None:
        return None
    if handed.started_at <= ended_at or not history.filter(started_at__lte=started_at).exists():
        return handed.officer  # handed out while it recorded, or its first hand-out
    return None  # assigned before, back in the pool then


def _content_type_allowed(value: str) -> bool:
    for pattern in conf.content_types():
        if pattern == value or (pattern.endswith("/*") and value.startswith(pattern[:-1])):
            return True
    return False


def _check_declaration(
    *, started_at: datetime, ended_at: datetime, size_bytes: int, content_type: str, trigger: str, command_id
) -> None:
    errors: dict[str, list[str]] = {}
    now = timezone.now()
    skew = timedelta(seconds=conf.future_skew())
    if started_at > now + skew:
        errors.setdefault("started_at", []).append("Lies in the future.")
    if ended_at > now + skew:
        errors.setdefault("ended_at", []).append("Lies in the future.")
    if started_at.year < 2000:
        errors.setdefault("started_at", []).append("Is before the year 2000; the camera's clock is wrong.")
    if ended_at < started_at:
        errors.setdefault("ended_at", []).append("Is before started_at.")
    elif (ended_at - started_at).total_seconds() > conf.max_duration():
        errors.setdefault("ended_at", []).append(f"The recording is longer than {conf.max_duration()} seconds.")
    if size_bytes > conf.max_clip_size():
        errors.setdefault("size_bytes", []).append(f"Is over the maximum clip size of {conf.max_clip_size()} bytes.")
    if not _content_type_allowed(content_type):
        errors.setdefault("content_type", []).append(f"Must be one of: {', '.join(conf.content_types())}.")
    if command_id is not None and trigger != Trigger.REMOTE:
        errors.setdefault("command_id", []).append("Only a clip with trigger remote links a command.")
    if errors:
        name, messages = next(iter(errors.items()))
        raise InvalidInput(f"{name}: {messages[0]}", fields=errors)


def _command_is_the_devices(device: Device, command_id) -> bool:
    """Whether a remote recording may be linked to this command: not one sent to another camera
    (apps.control answers), which the clip would claim to be the result of."""
    answers = command_sent_to_device.send(sender=Device, device=device, command_id=command_id)
    return all(answer for _, answer in answers)


def _same_declaration(clip: Clip, *, size_bytes: int, sha256: str) -> bool:
    return clip.size_bytes == size_bytes and clip.sha256 == sha256


def _existing(device: Device, recording_id: str, *, size_bytes: int, sha256: str) -> Clip | None:
    clip = Clip.objects.select_related("category").filter(device=device, recording_id=recording_id).first()
    if clip is not None and not _same_declaration(clip, size_bytes=size_bytes, sha256=sha256):
        raise Conflict("This recording was declared before with a different size or SHA-256.", code="clip_conflict")
    return clip


def clip_declare(
    *,
    device: Device,
    recording_id: str,
    started_at: datetime,
    ended_at: datetime,
    size_bytes: int,
    sha256: str,
    content_type: str,
    trigger: str,
    command_id=None,
    location: dict | None = None,
    context: AuditContext | None = None,
) -> tuple[Clip, bool]:
    """Declares a clip and opens its multipart upload; (clip, created).

    The same recording from the same device is the same clip (returned as it is); the same
    recording with another size or hash is a conflict.
    """
    _check_declaration(
        started_at=started_at,
        ended_at=ended_at,
        size_bytes=size_bytes,
        content_type=content_type,
        trigger=trigger,
        command_id=command_id,
    )
    existing = _existing(device, recording_id, size_bytes=size_bytes, sha256=sha256)
    if existing is not None:
        if existing.state == ClipState.ABORTED:
            return _reopen(existing, context=context), False
        clip_upload_seen(existing)
        return existing, False
    # Never refused (the recording is evidence): a command sent to another camera is not linked,
    # and the declaration's audit event names the one it claimed.
    claimed_command = None
    if command_id is not None and not _command_is_the_devices(device, command_id):
        claimed_command, command_id = command_id, None

    part_size, part_count = plan_parts(size_bytes)
    category = category_get_or_default()
    clip = Clip(
        device=device,
        officer=officer_at(device, started_at, ended_at),
        recording_id=recording_id,
        started_at=started_at,
        ended_at=ended_at,
        duration_s=(ended_at - started_at).total_seconds(),
        size_bytes=size_bytes,
        sha256=sha256,
        content_type=content_type,
        trigger=trigger,
        command_id=command_id if trigger == Trigger.REMOTE else None,
        category=category,
        retain_until=retain_until_for(category=category, started_at=started_at),
        part_size=part_size,
        part_count=part_count,
        lat=(location or {}).get("lat"),
        lon=(location or {}).get("lon"),
        accuracy_m=(location or {}).get("accuracy_m"),
    )
    extension = mimetypes.guess_extension(content_type) or ".bin"
    clip.storage_key = f"clips/{device.pk}/{clip.pk}{extension}"

    # The store call stays outside the transaction (no database lock held across the network).
    storage = get_storage()
    with _store():
        clip.upload_id = storage.multipart_create(clip.storage_key, content_type=content_type)
    try:
        with transaction.atomic():
            clip.save(force_insert=True)
            audit_record(
                action="clip.declare",
                actor=device,
                obj=clip,
                context=context,
                details={
                    "recording_id": recording_id,
                    "size_bytes": size_bytes,
                    "sha256": sha256,
                    "trigger": trigger,
                    "command_id": str(command_id) if clip.command_id else None,
                    **({"command_id_not_linked": str(claimed_command)} if claimed_command else {}),
                    "officer": str(clip.officer_id) if clip.officer_id else None,
                    "part_size": part_size,
                    "part_count": part_count,
                    "storage": storage.name,
                },
            )
            clip_announce(clip)
    except IntegrityError:
        # Declared twice at the same moment: the other request won; answer with its clip.
        leftovers.abort_upload(clip.storage_key, clip.upload_id, reason="clip declared twice at once")
        existing = _existing(device, recording_id, size_bytes=size_bytes, sha256=sha256)
        if existing is None:
            raise
        return existing, False
    except BaseException:
        leftovers.abort_upload(clip.storage_key, clip.upload_id, reason="clip declaration not stored")
        raise
    return clip, True


def _fresh_upload(
    clip: Clip, *, from_state: str, action: str, context, details=None, where=None, **updates
) -> tuple[bool, str]:
    """A new multipart upload in the store for this clip, moved from `from_state` (and `where`) to
    `uploading` with it: (moved, the new upload's id). Not moved: another request got there first."""
    storage = get_storage()
    with _store():
        upload_id = storage.multipart_create(clip.storage_key, content_type=clip.content_type)
    moved = clip_transition(
        clip=clip,
        from_state=from_state,
        to=ClipState.UPLOADING,
        action=action,
        actor=clip.device,
        context=context,
        details={**(details or {}), "storage": storage.name},
        where=where,
        upload_id=upload_id,
        **updates,
    )
    return moved, upload_id


def _reopen(clip: Clip, *, context: AuditContext | None = None) -> Clip:
    """A camera back after its upload was swept as stale: a fresh upload for the same clip."""
    moved, upload_id = _fresh_upload(
        clip, from_state=ClipState.ABORTED, action="clip.reopen", context=context, aborted_at=None
    )
    if not moved:  # reopened by a concurrent declare: drop ours, answer with theirs
        leftovers.abort_upload(clip.storage_key, upload_id, reason="clip reopened twice at once")
    return clip


def clip_upload_seen(clip: Clip, *, at: datetime | None = None) -> None:
    """Notes a sign of life of the clip's upload, `at` (now by default): its device asked about it
    (declared it again, asked for part URLs, its status, to complete it, PUT a part on disk), or the
    stale-upload sweep found a part the store took then. On S3 the parts go straight to the store
    and nothing else moves the clip while it uploads: without this, a long upload over a poor link
    that was still making progress was swept 48 hours after it was declared. Only while it
    uploads; never backwards; at most once a minute (no query at all when the clip as read was
    seen within the minute, a conditional UPDATE otherwise)."""
    at = at or timezone.now()
    if clip.upload_seen_at is not None and clip.upload_seen_at >= at - SEEN_EVERY:
        return
    due = Q(upload_seen_at__isnull=True) | Q(upload_seen_at__lt=at - SEEN_EVERY)
    Clip.objects.filter(due, pk=clip.pk, state=ClipState.UPLOADING).update(upload_seen_at=at)


def require_uploading(clip: Clip) -> None:
    if clip.state != ClipState.UPLOADING:
        raise Conflict(f"The clip is {clip.state}; its upload is closed.", code="clip_not_uploading")


def clip_part_urls(*, clip: Clip, numbers: list[int], context: AuditContext | None = None) -> list[dict]:
    """Short-lived URLs to PUT the given parts (presigned on S3, signed rtcc URLs on disk)."""
    require_uploading(clip)
    numbers = list(dict.fromkeys(numbers))
    if len(numbers) > conf.parts_per_request():
        raise InvalidInput(
            f"Ask for at most {conf.parts_per_request()} parts at a time.",
            fields={"numbers": [f"At most {conf.parts_per_request()} numbers."]},
        )
    outside = [n for n in numbers if not 1 <= n <= clip.part_count]
    if outside:
        raise InvalidInput(
            f"Part numbers run from 1 to {clip.part_count}.",
            fields={"numbers": [f"No part {n}; parts run from 1 to {clip.part_count}." for n in outside[:10]]},
        )
    storage, ttl = get_storage(), conf.part_url_ttl()
    parts = []
    with _store():
        for number in numbers:
            url = storage.part_upload_url(
                clip.storage_key, clip.upload_id, number, length=clip.part_length(number), expires_in=ttl
            )
            parts.append({"number": number, **url})
    audit_record(
        action="clip.parts",
        actor=clip.device,
        obj=clip,
        context=context,
        details={"count": len(numbers), "first": min(numbers), "last": max(numbers)},
    )
    return parts


def _listed_parts(clip: Clip) -> tuple[dict[int, StoredPart], list[int], list[int]]:
    """(the clip's parts in the store by number, the numbers not there with their right size: to
    send, or send again; the numbers held twice with different bytes), from the store's own list.

    A part sent again can stay listed beside the copy it replaces: SeaweedFS keeps both, listed in
    no fixed order, both with the same LastModified second, and joins whichever ETag it is given.
    Taking the last one listed joined the old bytes: a short copy first and the right one after
    made a good upload `corrupt` for good. The copy of the right size is taken; copies with one
    ETag are one part sent twice; two of the right size with different ETags cannot be told apart."""
    with _store():
        listed = list(get_storage().multipart_parts(clip.storage_key, clip.upload_id))
    copies: dict[int, list[StoredPart]] = defaultdict(list)
    for part in listed:
        if 1 <= part.number <= clip.part_count:
            copies[part.number].append(part)
    parts: dict[int, StoredPart] = {}
    twice: list[int] = []
    for number, found in sorted(copies.items()):
        right = {part.etag: part for part in found if part.size == clip.part_length(number)}
        if len(right) > 1:
            twice.append(number)
        parts[number] = next(iter(right.values())) if right else found[-1]
    good = {n for n, part in parts.items() if part.size == clip.part_length(n) and n not in twice}
    return parts, [n for n in range(1, clip.part_count + 1) if n not in good], twice


def _restart_upload(clip: Clip, twice: list[int], *, context: AuditContext | None = None) -> None:
    """Parts held twice with different bytes: which copy is the camera's last cannot be known, and
    joining the wrong one makes the clip corrupt for good. The upload starts over (a new one in the
    store, the old one aborted) and the camera is told to send every part again."""
    old = clip.upload_id
    moved, upload_id = _fresh_upload(
        clip,
        from_state=ClipState.UPLOADING,
        action="clip.upload_restart",
        context=context,
        details={"parts_held_twice": twice},
        where={"upload_id": old},
    )
    if moved:
        leftovers.abort_upload(clip.storage_key, old, reason="parts held twice with different bytes")
    else:  # another complete restarted it first: ours is not needed
        leftovers.abort_upload(clip.storage_key, upload_id, reason="clip upload restarted twice at once")
    raise UploadIncompleteError(
        list(range(1, clip.part_count + 1)),
        message=(
            f"Part(s) {', '.join(map(str, twice))} reached the store twice with different bytes; the"
            " upload starts over: ask for part URLs again and send every part."
        ),
    )


def stored_parts(clip: Clip) -> tuple[list[StoredPart], list[int]]:
    """(parts in the store with their right size, numbers still missing), from the store's own list."""
    parts, missing, _ = _listed_parts(clip)
    return [part for number, part in sorted(parts.items()) if number not in missing], missing


def clip_complete(*, clip: Clip, context: AuditContext | None = None) -> Clip:
    """Completes the upload in the store and queues verification; re-completing is harmless."""
    if clip.state in COMPLETED:
        return clip
    require_uploading(clip)
    storage = get_storage()
    unjoinable = False
    try:
        listed, missing, twice = _listed_parts(clip)
        if len(listed) < clip.part_count:  # the device has parts to send (or send again)
            raise UploadIncompleteError(missing)
        if twice:
            _restart_upload(clip, twice, context=context)
        # Every part is there. Some of the wrong size make bytes that cannot match the declared size:
        # completed all the same, verification finds so and the clip is `corrupt` (the contract).
        with _store():
            try:
                storage.multipart_complete(clip.storage_key, clip.upload_id, [listed[n] for n in sorted(listed)])
            except NoSuchUploadError:
                raise
            except StorageError:
                if not missing:  # every part is there: the missing ones are of the wrong size
                    raise
                # The store will not join them (parts below its minimum size): nothing can be
                # stored under the clip's key, and the clip is found corrupt now (below).
                log.warning("clip %s: the store refused parts of the wrong size %s", clip.pk, missing)
                storage.multipart_abort(clip.storage_key, clip.upload_id)
                unjoinable = True
    except NoSuchUploadError:
        # Another complete (or the stale-upload sweep) got there first: answer with what it left.
        clip.refresh_from_db()
        if clip.state in COMPLETED:
            return clip
        with _store():
            stored = clip.state == ClipState.UPLOADING and storage.exists(clip.storage_key)
        if not stored:
            raise Conflict(f"The clip is {clip.state}; its upload is closed.", code="clip_not_uploading") from None
    except StorageError as exc:  # e.g. a part replaced between listing and completing
        raise Conflict(
            f"The store refused to complete the upload ({exc}); check the upload and retry.", code="complete_refused"
        ) from None
    now = timezone.now()
    if clip_transition(
        clip=clip,
        from_state=ClipState.UPLOADING,
        to=ClipState.VERIFYING,
        action="clip.complete",
        actor=clip.device,
        context=context,
        details={"part_count": clip.part_count, "size_bytes": clip.size_bytes},
        completed_at=now,
        updated_at=now,
        verify_due_at=now,
        verify_attempts=0,
        verify_missing_reads=0,
    ):
        if unjoinable:  # nothing stored to read: corrupt now
            _verdict(clip, size=None, sha256="", reason="the store would not join parts of the wrong size")
        else:
            _queue_verification(clip.pk, size=clip.size_bytes)
    return clip


def _verdict(clip: Clip, *, size: int | None, sha256: str, where: dict | None = None, **noted) -> None:
    """Verification's finding, recorded: `available` when the stored bytes are the declared size
    and SHA-256, else `corrupt`; `noted` goes into the `clip.verify` event (the attempt, a reason)."""
    state = ClipState.AVAILABLE if size == clip.size_bytes and sha256 == clip.sha256 else ClipState.CORRUPT
    now = timezone.now()
    clip_transition(
        clip=clip,
        from_state=ClipState.VERIFYING,
        to=state,
        action="clip.verify",
        outcome=state,
        details={
            "result": state,
            "declared_size": clip.size_bytes,
            "observed_size": size,
            "declared_sha256": clip.sha256,
            "observed_sha256": sha256,
            **noted,
        },
        where=where,
        observed_size=size,
        observed_sha256=sha256,
        verified_at=now,
        updated_at=now,
        verify_due_at=None,
    )


def _verify_in_thread(clip_id: str) -> None:
    from django.db import close_old_connections

    from .tasks import verify_clip

    try:
        verify_clip.apply(args=(clip_id,))
    finally:
        close_old_connections()


def _dispatch_verification(clip_id, *, size: int = 0) -> None:
    """The verification task, now. Without a worker (tasks run in process) a big clip is verified
    in a thread, so neither the device's `complete` nor the periodic sweep waits for the whole read."""
    from .tasks import verify_clip

    if verify_clip.app.conf.task_always_eager and size > conf.inline_verify_max():
        threading.Thread(target=_verify_in_thread, args=(str(clip_id),), name="clip-verify", daemon=True).start()
    else:
        verify_clip.delay(str(clip_id))


def _queue_verification(clip_id, *, size: int = 0) -> None:
    """After commit: the verification task (if the broker is down then, the verify sweep queues it)."""

    def queue() -> None:
        try:
            _dispatch_verification(clip_id, size=size)
        except Exception:  # the clip is `verifying` and due: the sweep takes it
            log.exception("clip %s: verification not queued; the verify sweep will", clip_id)

    transaction.on_commit(queue)


def object_digest(key: str, *, storage=None, on_part=None, streams: int | None = None) -> tuple[int, str]:
    """(size, SHA-256 hex) of a stored object, read once, in order; `on_part()` after each part.

    The store reads ahead (ObjectStore.iter_whole: one GET read straight into reused buffers, or
    `streams` ranged GETs at once, RTCC_CLIP_VERIFY_STREAMS) while this thread hashes the part
    before (hashlib and socket reads both release the GIL); memory stays a few MiB whatever the
    object's size.
    """
    storage = storage or get_storage()
    digest, size = hashlib.sha256(), 0
    for part in storage.iter_whole(key, streams=conf.verify_streams() if streams is None else streams):
        digest.update(part)
        size += len(part)
        if on_part is not None:
            on_part()
    return size, digest.hexdigest()


# Verification is leased in the database (Clip.verify_due_at, verify_attempts): exactly one reader
# per clip at a time, whoever runs it (the task queued by `complete`, a redelivered one, the sweep).


class VerifyLeaseLost(Exception):
    """This reader's lease ran out and another verification took the clip: it stops reading."""


def _verify_due() -> Q:
    return Q(verify_due_at__isnull=True) | Q(verify_due_at__lte=timezone.now())


def verify_claim(clip_id) -> int | None:
    """Takes the clip's verification lease if it is `verifying` and due (a conditional UPDATE that
    counts the attempt): the attempt number, which fences every later write of this reader; None
    when the clip is not due (another reader holds it, or it waits for its retry time)."""
    now = timezone.now()
    with transaction.atomic():
        taken = Clip.objects.filter(_verify_due(), pk=clip_id, state=ClipState.VERIFYING).update(
            verify_attempts=F("verify_attempts") + 1, verify_due_at=now + timedelta(seconds=conf.verify_lease())
        )
        if not taken:
            return None
        return Clip.objects.filter(pk=clip_id).values_list("verify_attempts", flat=True).first()


def _verify_renew(clip_id, attempt: int) -> None:
    """Extends this reader's lease; VerifyLeaseLost if another reader has taken the clip."""
    renewed = Clip.objects.filter(pk=clip_id, state=ClipState.VERIFYING, verify_attempts=attempt).update(
        verify_due_at=timezone.now() + timedelta(seconds=conf.verify_lease())
    )
    if not renewed:
        raise VerifyLeaseLost(f"clip {clip_id}: verification lease {attempt} lost")


def _verify_later(clip: Clip, attempt: int, why: str) -> None:
    """The store failed this read: the clip stays `verifying`, due again after a doubling pause."""
    first, longest = conf.verify_backoff()
    delay = min(first * 2 ** max(0, attempt - 1), longest)
    Clip.objects.filter(pk=clip.pk, state=ClipState.VERIFYING, verify_attempts=attempt).update(
        verify_due_at=timezone.now() + timedelta(seconds=delay)
    )
    log.warning("clip %s: verification attempt %s failed (%s); again in %.0f s", clip.pk, attempt, why, delay)
    clip.refresh_from_db()


def clip_verify(*, clip_id) -> Clip | None:
    """Streams a `verifying` clip once and marks it `available` (size and SHA-256 match what the
    camera declared) or `corrupt` (kept and flagged). Anything else is left as it is.

    Only with the clip's lease (verify_claim): a clip not due is left to whoever holds it. A store
    that fails (down, timing out, an object changing under the read) never makes a clip corrupt:
    it stays `verifying`, due again after a backed-off pause, for the verify sweep."""
    clip = Clip.objects.filter(pk=clip_id).first()
    if clip is None or clip.state != ClipState.VERIFYING:
        return clip
    attempt = verify_claim(clip.pk)
    if attempt is None:
        return clip
    renew_every, renewed_at = conf.verify_lease() / 3, time.monotonic()

    def renew() -> None:
        nonlocal renewed_at
        if time.monotonic() - renewed_at >= renew_every:
            _verify_renew(clip.pk, attempt)
            renewed_at = time.monotonic()

    try:
        size, sha256 = object_digest(clip.storage_key, on_part=renew)
    except VerifyLeaseLost:
        log.warning("clip %s: verification lease %s lost mid-read; the new holder verifies it", clip.pk, attempt)
        clip.refresh_from_db()
        return clip
    except ObjectMissingError:
        # No bytes where the upload put them: a finding (corrupt), once several reads agree.
        Clip.objects.filter(pk=clip.pk, verify_attempts=attempt).update(
            verify_missing_reads=F("verify_missing_reads") + 1
        )
        clip.refresh_from_db()
        if clip.verify_missing_reads < conf.verify_missing_attempts():
            _verify_later(clip, attempt, "no object")
            return clip
        log.warning("clip %s: no stored object under %s", clip.pk, clip.storage_key)
        size, sha256 = None, ""
    except DatabaseError:
        raise  # the task retries; the lease runs out meanwhile
    except Exception as exc:  # the store failing, however it fails: again later, never corrupt
        _verify_later(clip, attempt, f"{type(exc).__name__}: {exc}")
        return clip
    _verdict(clip, size=size, sha256=sha256, where={"verify_attempts": attempt}, attempt=attempt)
    return clip


def clips_verify_due(*, limit: int | None = None) -> int:
    """Queues verification of every `verifying` clip whose lease or retry time has passed (a worker
    killed mid-read, the store down, a task the broker lost); the number queued. Each run of the
    task takes the lease first, so a clip queued twice is still read once at a time."""
    cutoff = timezone.now() - timedelta(seconds=2)  # just completed: its own task is on the way
    due = Q(verify_due_at__isnull=True) | Q(verify_due_at__lte=cutoff)
    rows = list(
        Clip.objects.filter(due, state=ClipState.VERIFYING)
        .order_by("verify_due_at")
        .values_list("pk", "size_bytes")[: limit or conf.verify_sweep_batch()]
    )
    for clip_id, size in rows:
        _dispatch_verification(clip_id, size=size)
    return len(rows)


def clip_abort(
    *, clip: Clip, reason: str, actor: Any = None, context: AuditContext | None = None, where: dict | None = None
) -> Clip:
    """Aborts an unfinished upload in the store and marks the clip `aborted` (only if it still
    matches `where` too: the stale-upload sweep spares one that showed life meanwhile)."""
    now = timezone.now()
    moved = clip_transition(
        clip=clip,
        from_state=ClipState.UPLOADING,
        to=ClipState.ABORTED,
        action="clip.abort",
        actor=actor,
        context=context,
        details={"reason": reason},
        where=where,
        aborted_at=now,
        updated_at=now,
    )
    if moved:  # a store that does not answer now: the leftover sweep aborts it later
        leftovers.abort_upload(clip.storage_key, clip.upload_id, reason=f"clip upload aborted: {reason}")
    return clip


def _part_stored_since(clip: Clip, since: datetime) -> datetime | None:
    """When the store took a part of the clip's upload at or after `since`, from its own list of
    parts (a camera's part PUTs on S3 reach rtcc no other way); None when it holds none that recent,
    or no such upload. Cheap and bounded: ListParts is read page by page (a thousand parts a page)
    and stops at the first recent part; at most two entries per part are read (a store may list a
    replaced copy beside its replacement). A store that fails raises."""
    try:
        listed = get_storage().multipart_parts(clip.storage_key, clip.upload_id)
        for part in itertools.islice(listed, 2 * clip.part_count):
            if part.last_modified is not None and part.last_modified >= since:
                return part.last_modified
    except NoSuchUploadError:
        return None
    return None


def clips_abort_stale(*, older_than: timedelta | None = None, limit: int = 500) -> int:
    """Aborts uploads left unfinished for the configured age (48 h) since their last sign of life;
    the number aborted. Life is a change to the clip (`updated_at`: declared, reopened, edited), a
    request of its device about the upload (`upload_seen_at`), or, asked of the store last, a part
    it took (a camera's part PUTs on S3 go straight to the store). A clip on legal hold is never
    given up: its stored parts wait for the camera.

    A store that cannot list the parts is no sign that the upload is idle: nothing more is aborted
    this run, which logs it once and stops; the next run asks again."""
    cutoff = timezone.now() - (older_than or timedelta(seconds=conf.stale_upload_age()))
    quiet = Q(upload_seen_at__isnull=True) | Q(upload_seen_at__lt=cutoff)
    given_up = Clip.objects.filter(quiet, state=ClipState.UPLOADING, updated_at__lt=cutoff, legal_hold=False)
    stale = list(given_up.order_by("updated_at")[:limit])
    aborted = 0
    for clip in stale:
        try:
            stored_at = _part_stored_since(clip, cutoff)
        except Exception as exc:  # the store failing, however it fails (down, refusing, timing out)
            log.warning(
                "stale-upload sweep: the object store did not list the parts of clip %s (%s); no upload is"
                " aborted until it answers, the next run asks again",
                clip.pk,
                exc,
            )
            break
        if stored_at is not None:  # still making progress: not looked at again for another 48 h
            clip_upload_seen(clip, at=stored_at)
            continue
        try:
            # Not if its device asked about it (or anyone changed it) while the store was listing.
            unchanged = {"updated_at": clip.updated_at, "upload_seen_at": clip.upload_seen_at}
            clip_abort(clip=clip, reason=f"upload unfinished after {conf.stale_upload_age()} s", where=unchanged)
        except StorageError:
            log.exception("could not abort the upload of clip %s", clip.pk)
            continue
        if clip.state == ClipState.ABORTED:
            aborted += 1
    return aborted
