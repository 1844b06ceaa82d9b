"""Deleting objects whose rows are gone, until the store agrees.

Retention deletes a row and then its bytes (a plate read's image), a transaction that failed
deletes the objects it had already put (atomic_with_objects), and a clip's upload given up is
aborted in the store. When the store refuses or does not answer at that moment, the key (and
upload) is remembered here (StoreLeftover) and the periodic sweep deletes or aborts it again,
so an outage of the store never leaves bytes behind for good, out of reach of every retention
rule, search and purge."""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction
from django.utils import timezone

from . import conf
from .models import StoreLeftover
from .storage import ObjectMissingError, get_storage

log = logging.getLogger(__name__)


def _purge(keys: list[str], *, reason: str) -> tuple[list[str], str]:
    """Deletes these objects' bytes now (a thousand per request on S3), every version of them on
    a versioned (Object Lock) bucket, where a plain delete only hides them: (the keys the store
    did not delete, why)."""
    error = "the store refused or did not answer"
    try:
        failed = get_storage().purge_many(list(keys))
    except Exception as exc:  # a store that cannot even be opened
        failed, error = list(keys), str(exc)
    if failed:
        log.warning(
            "object store: %d of %d objects not deleted (%s); the sweep tries again", len(failed), len(keys), reason
        )
    return failed, error


def delete_many(keys: list[str], *, reason: str) -> int:
    """Deletes these objects now (_purge); the keys the store does not delete are remembered for
    the sweep. Returns how many it did not delete."""
    if not keys:
        return 0
    failed, error = _purge(keys, reason=reason)
    if failed:
        remember(failed, reason=reason, error=error)
    return len(failed)


def intend(keys: list[str], *, reason: str) -> None:
    """In the transaction that deletes the rows of these objects: the objects are remembered as
    owed a delete, committed with the rows, so a process that dies before it deletes the bytes
    (killed, out of memory, its machine gone) leaves them to the sweep, not in the store for good.
    After the commit, delete_intended deletes them and forgets them."""
    rows = [StoreLeftover(key=key, reason=reason[:200], last_error="not deleted yet") for key in keys]
    StoreLeftover.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def delete_intended(keys: list[str], *, reason: str) -> int:
    """After the commit of intend's transaction: deletes the objects now; the ones deleted are
    forgotten, the others wait for the sweep. Returns how many were not deleted."""
    if not keys:
        return 0
    failed, error = _purge(keys, reason=reason)
    done = sorted(set(keys) - set(failed))
    try:
        for start in range(0, len(done), 1000):
            StoreLeftover.objects.filter(key__in=done[start : start + 1000], upload_id="").delete()
        if failed:
            StoreLeftover.objects.filter(key__in=failed, upload_id="").update(
                last_tried_at=timezone.now(), last_error=error[:500]
            )
    except DatabaseError:  # the sweep finds them (deleted ones are found gone and forgotten)
        log.exception("object store: could not record which of %d objects were deleted", len(keys))
    return len(failed)


def abort_upload(key: str, upload_id: str, *, reason: str) -> bool:
    """Aborts an unfinished multipart upload now (its parts are deleted); when the store fails,
    remembers it for the sweep. True when the upload is gone now."""
    try:
        get_storage().multipart_abort(key, upload_id)
    except Exception as exc:
        log.warning("object store: could not abort the upload of %s (%s); the sweep tries again", key, exc)
        remember([key], upload_id=upload_id, reason=reason, error=exc)
        return False
    return True


def remember(keys: list[str], *, reason: str, error: BaseException | str, upload_id: str = "") -> None:
    """Records keys (or an upload) the store did not delete, in one statement; one already
    remembered is left as it is, and a database that fails too is logged."""
    rows = [
        StoreLeftover(key=key, upload_id=upload_id, reason=reason[:200], last_error=str(error)[:500]) for key in keys
    ]
    try:
        with transaction.atomic():
            StoreLeftover.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    except DatabaseError:
        log.exception("object store: %d objects could not be deleted nor remembered; they stay", len(keys))


def retry(*, limit: int | None = None) -> dict:
    """The sweep: deletes remembered objects (aborts remembered uploads) again, the longest-waiting
    first. One deleted (or found gone) is forgotten; one the store still refuses waits for the next run."""
    deleted = failed = 0
    for leftover in StoreLeftover.objects.order_by("last_tried_at")[: limit or conf.leftover_batch()]:
        try:
            storage = get_storage()  # a store that cannot even be opened fails here too
            if leftover.upload_id:
                storage.multipart_abort(leftover.key, leftover.upload_id)
            else:
                storage.purge(leftover.key)
        except ObjectMissingError:
            pass
        except Exception as exc:
            failed += 1
            StoreLeftover.objects.filter(pk=leftover.pk).update(
                attempts=leftover.attempts + 1, last_tried_at=timezone.now(), last_error=str(exc)[:500]
            )
            continue
        leftover.delete()
        deleted += 1
    if deleted or failed:
        log.info("object store: leftover sweep deleted %d, %d still refused", deleted, failed)
    return {"deleted": deleted, "failed": failed}
