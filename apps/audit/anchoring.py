"""Anchors the audit chain outside the database: the chain head (and each event hash since the
last checkpoint) signed with a key the database does not hold, stored in the object store under
Object Lock where the bucket has it. Whoever rewrites the database and recomputes every hash
cannot re-sign, so verify_audit names the first event that no longer matches."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from apps.integrations.storage import get_storage

from . import conf
from .models import AuditEvent, AuditHead

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "audit/checkpoints/"
VERSION = 1

# A deleted checkpoint is caught by the next one, which names the one it follows; nothing follows
# the newest. Without Object Lock, whoever can delete objects in the store and write the database
# can delete the newest checkpoint, rewrite the events after the one before it, and let the next
# checkpoint sign the rewritten events: only Object Lock stops that.
NO_OBJECT_LOCK = (
    "the object store's bucket has no Object Lock: the checkpoints can be deleted, so someone who can"
    " delete objects there and write to the database could delete the newest checkpoint and rewrite"
    " the events after the one before it without a trace; turn Object Lock on for the bucket"
)


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _signature(body: dict) -> str:
    return hmac.new(settings.RTCC_AUDIT_SIGNING_KEY.encode(), _canonical(body), hashlib.sha256).hexdigest()


def _key(seq: int) -> str:
    return f"{CHECKPOINT_PREFIX}{seq:015d}.json"


def _seq_of(key: str) -> int | None:
    name = key.removeprefix(CHECKPOINT_PREFIX).removesuffix(".json")
    return int(name) if name.isdigit() else None


def store_ahead_message(checkpoint: int, head: int) -> str:
    return (
        f"the object store holds a signed checkpoint of audit event #{checkpoint}, but the database's"
        f" chain ends at #{head}: the database was restored from an older backup, or its newest events"
        " were deleted"
    )


def _warn_store_ahead(checkpoint: int, head: int) -> None:
    """The store vouches for events the database no longer has: no checkpoint can follow until
    the chain passes the stored one, and that is worth an operator's attention, not silence."""
    log.warning(
        "audit checkpoint not written: %s. No checkpoint is written until the chain passes #%d."
        " Run `python manage.py verify_audit`: it names the events the checkpoints vouch for and the"
        " database lacks or holds differently (they stay reported: the checkpoints cannot be"
        " re-signed); if this was a restore, record it with the time of the backup.",
        store_ahead_message(checkpoint, head),
        checkpoint,
    )


def audit_checkpoint() -> dict | None:
    """Writes signed checkpoints of the chain up to its head when events were added since the last
    one, at most checkpoint_max_events() hashes each (several when more wait); returns the last (None
    when there was nothing new)."""
    storage = get_storage()
    seqs = [s for s in (_seq_of(k) for k in storage.list_keys(CHECKPOINT_PREFIX)) if s is not None]
    last = max(seqs, default=0)
    head = AuditHead.objects.filter(id=1).first()
    head_seq = head.seq if head is not None else 0
    if head_seq < last:
        _warn_store_ahead(last, head_seq)
        return None
    document = None
    while head is not None and head.seq > last:
        upto = min(head.seq, last + conf.checkpoint_max_events())
        document = _checkpoint(storage, after=last, upto=upto, head_hash=head.hash if upto == head.seq else None)
        last = upto
    return document


def _checkpoint(storage, *, after: int, upto: int, head_hash: str | None) -> dict:
    """One signed checkpoint of the events after `after` up to `upto` (the head, whose hash is
    `head_hash`, or a point on the way to it), stored."""
    hashes = list(AuditEvent.objects.filter(seq__gt=after, seq__lte=upto).order_by("seq").values_list("seq", "hash"))
    body = {
        "version": VERSION,
        "after": after,
        "seq": upto,
        "hash": head_hash if head_hash is not None else dict(hashes).get(upto, ""),
        "hashes": [[seq, digest] for seq, digest in hashes],
        "signed_at": timezone.now().isoformat(),
    }
    document = {**body, "signature": _signature(body)}
    key = _key(upto)
    storage.put(key, io.BytesIO(_canonical(document)), content_type="application/json")
    if storage.object_lock_enabled():
        storage.object_lock_apply(
            key,
            retain_until=timezone.now() + settings.RTCC_AUDIT_CHECKPOINT_RETENTION,
            mode="COMPLIANCE",
            legal_hold=False,
        )
    return document


@dataclass
class AnchorVerdict:
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what weakens the anchoring, not a tampering
    rewritten_from: int | None = None
    covered_to: int = 0  # the last event a signed checkpoint covers

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_verify_checkpoints() -> AnchorVerdict:
    """Checks every stored checkpoint's signature, then every event hash it signed against the
    database; the earliest event that differs is where history was rewritten."""
    storage = get_storage()
    verdict = AnchorVerdict()
    signed_after: dict[int, int] = {}  # each signed checkpoint's last event -> the one it follows
    for key in storage.list_keys(CHECKPOINT_PREFIX):
        if _seq_of(key) is None:
            continue
        verdict.checkpoints += 1
        try:
            document = json.loads(b"".join(storage.iter_bytes(key)))
            body = {k: v for k, v in document.items() if k != "signature"}
            signed = hmac.compare_digest(str(document.get("signature", "")), _signature(body))
        except (ValueError, TypeError, AttributeError):
            signed = False
        if not signed:
            verdict.problems.append(f"checkpoint {key} has a bad signature (forged or damaged): not trusted")
            continue
        signed_after[int(body["seq"])] = int(body.get("after") or 0)
        differs = _first_difference(sorted((int(seq), digest) for seq, digest in body["hashes"]))
        if differs is not None and (verdict.rewritten_from is None or differs < verdict.rewritten_from):
            verdict.rewritten_from = differs
    # Each checkpoint names the one it follows: one that is gone was deleted from the store.
    for seq, after in sorted(signed_after.items()):
        if after and after not in signed_after:
            verdict.problems.append(
                f"the signed checkpoint of event #{after} is missing from the store (deleted):"
                f" the checkpoint of #{seq} follows it"
            )
    verdict.covered_to = max(signed_after, default=0)
    head = AuditHead.objects.filter(id=1).values_list("seq", flat=True).first() or 0
    if verdict.covered_to > head:
        verdict.problems.append(store_ahead_message(verdict.covered_to, head))
    if not storage.object_lock_enabled():
        verdict.warnings.append(NO_OBJECT_LOCK)
    if verdict.rewritten_from is not None:
        seq = verdict.rewritten_from
        verdict.problems.insert(
            0,
            f"history was rewritten from event #{seq} on: it no longer matches the signed checkpoint"
            + (" (the event is gone)" if not AuditEvent.objects.filter(seq=seq).exists() else ""),
        )
    return verdict


def _first_difference(signed: list[tuple[int, str]]) -> int | None:
    """The first signed event whose stored hash differs (or that is gone). The stored hashes are
    read as one range, in chunks: asked for by number (seq IN 500,000 values), one checkpoint took
    600 MB to check."""
    if not signed:
        return None
    stored = (
        AuditEvent.objects.filter(seq__gte=signed[0][0], seq__lte=signed[-1][0])
        .order_by("seq")
        .values_list("seq", "hash")
        .iterator(chunk_size=5000)
    )
    for seq, digest in signed:  # the signed events are one run of numbers: so are the stored ones
        row = next(stored, None)
        if row is None or row != (seq, digest):
            return seq
    return None
