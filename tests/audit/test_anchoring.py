"""The audit chain anchored outside the database: signed checkpoints of the chain head in the
object store. Whoever can write the database can recompute every hash; they cannot re-sign."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.audit.anchoring import CHECKPOINT_PREFIX, audit_checkpoint
from apps.audit.models import AuditEvent, AuditHead
from apps.audit.selectors import audit_verify_chain
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db


def record(n: int, start: int = 1):
    return [
        audit_record(action=f"test.step{i}", object_type="thing", object_id=i, details={"n": i})
        for i in range(start, start + n)
    ]


def rewrite_history_from(seq: int, **changes) -> None:
    """What an attacker with database rights does: change an event, then recompute every hash
    after it (and the head) so that the chain alone looks intact."""
    events = list(AuditEvent.objects.order_by("seq"))
    prev = events[seq - 2].hash if seq > 1 else "0" * 64
    with connection.cursor() as cursor:
        for event in events[seq - 1 :]:
            for field, value in (changes if event.seq == seq else {}).items():
                setattr(event, field, value)
            event.prev_hash = prev
            event.hash = event.compute_hash()
            table = AuditEvent._meta.db_table
            cursor.execute(
                f"UPDATE {table} SET details = %s, action = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                [json.dumps(event.details), event.action, event.prev_hash, event.hash, event.seq],
            )
            prev = event.hash
    AuditHead.objects.filter(id=1).update(hash=prev)


@pytest.fixture(params=["disk", pytest.param("s3", marks=pytest.mark.services)])
def store(request, settings, tmp_path):
    if request.param == "s3":
        return request.getfixturevalue("s3")
    from apps.integrations.storage import get_storage

    settings.RTCC_S3_BUCKET = None
    settings.RTCC_STORAGE_DIR = tmp_path / "objects"
    return get_storage()


@pytest.fixture(autouse=True)
def _clean_checkpoints(store):
    """Before and after: a checkpoint left in the run's shared bucket would be ahead of the next
    test's chain (or disagree with it) wherever verify_audit runs."""
    for key in store.list_keys(CHECKPOINT_PREFIX):
        store.delete(key)
    yield
    for key in store.list_keys(CHECKPOINT_PREFIX):
        store.delete(key)


def test_a_checkpoint_signs_the_head_and_verify_audit_accepts_it(store, capsys):
    record(5)
    checkpoint = audit_checkpoint()
    assert checkpoint["seq"] == 5 and checkpoint["hash"] == AuditHead.objects.get(id=1).hash
    assert audit_checkpoint() is None  # nothing new: no new checkpoint
    record(3, start=6)
    assert audit_checkpoint()["seq"] == 8
    assert len(store.list_keys(CHECKPOINT_PREFIX)) == 2
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "8 events verified" in out and "2 checkpoints" in out
    assert "every event is covered by a signed checkpoint (up to #8)" in out
    # The check is recorded (#9); newer than the last checkpoint: the auditor is told so, and how old.
    assert AuditEvent.objects.get(seq=9).action == "audit.verified"
    record(2, start=10)
    call_command("verify_audit")
    assert "events #9 to #11 are not covered by a signed checkpoint yet" in capsys.readouterr().out


def test_verify_audit_records_its_verdict_so_custody_says_the_trail_is_broken(store, capsys):
    """chain_intact follows the last full check: the command's, not only the 6-hourly one."""
    from apps.audit.selectors import audit_trail_whole

    record(4)
    audit_checkpoint()
    call_command("verify_audit")
    verified = AuditEvent.objects.filter(action="audit.verified").latest("seq")
    assert verified.outcome == "success" and verified.details["by"] == "verify_audit"
    assert audit_trail_whole()
    rewrite_history_from(2, details={"n": 2, "note": "edited"})
    with pytest.raises(CommandError):
        call_command("verify_audit")
    assert AuditEvent.objects.filter(action="audit.verified").latest("seq").outcome == "failure"
    assert not audit_trail_whole()


def test_verify_audit_warns_when_the_checkpoints_can_be_deleted(store, capsys):
    """Nothing follows the newest checkpoint to name it: without Object Lock, deleting it with
    the events after the one before it leaves no trace. The auditor is told, not reassured."""
    record(3)
    audit_checkpoint()
    call_command("verify_audit")
    captured = capsys.readouterr()
    assert "audit trail intact" in captured.out
    assert "WARNING: the object store's bucket has no Object Lock" in captured.err


def test_a_checkpoint_deleted_from_the_store_is_reported(store, capsys):
    """An insider who deleted events and the checkpoint that vouched for them: the next
    checkpoint names the one it follows, which is gone."""
    for start in (1, 4, 7):
        record(3, start=start)
        audit_checkpoint()
    store.delete(f"{CHECKPOINT_PREFIX}{6:015d}.json")
    with pytest.raises(CommandError):
        call_command("verify_audit")
    assert "the signed checkpoint of event #6 is missing from the store (deleted)" in capsys.readouterr().err


def test_history_rewritten_with_recomputed_hashes_is_caught_and_located(store, capsys):
    record(4)
    audit_checkpoint()
    record(4, start=5)
    audit_checkpoint()
    rewrite_history_from(6, details={"n": 6, "note": "nothing happened here"})
    assert audit_verify_chain().ok  # the hash chain alone cannot tell
    with pytest.raises(CommandError):
        call_command("verify_audit")
    err = capsys.readouterr().err
    assert "rewritten from event #6" in err
    assert "#5" not in err.replace("#6", "")


def test_a_forged_checkpoint_is_reported(store, capsys):
    record(3)
    audit_checkpoint()
    key = store.list_keys(CHECKPOINT_PREFIX)[0]
    body = json.loads(b"".join(store.iter_bytes(key)))
    body["hash"] = "f" * 64
    import io

    store.put(key, io.BytesIO(json.dumps(body).encode()))
    with pytest.raises(CommandError):
        call_command("verify_audit")
    assert "signature" in capsys.readouterr().err


def test_the_signing_key_is_not_in_the_database(settings):
    """The key comes from the environment (RTCC_AUDIT_SIGNING_KEY) or a file in the data
    directory, and nothing the database holds can stand in for it."""
    from rtcc import env

    assert (
        env.read({"RTCC_AUDIT_SIGNING_KEY": "k" * 40, "RTCC_DATA_DIR": str(settings.DATA_DIR)}).audit_signing_key
        == "k" * 40
    )
    assert len(settings.RTCC_AUDIT_SIGNING_KEY) >= 32
    with pytest.raises(Exception, match="RTCC_AUDIT_SIGNING_KEY"):
        env.read({"RTCC_AUDIT_SIGNING_KEY": "short", "RTCC_DATA_DIR": str(settings.DATA_DIR)})


def restore_to(seq: int) -> None:
    """What restoring the database from a backup taken at event #seq does to the chain."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq > %s", [seq])
    AuditHead.objects.filter(id=1).update(seq=seq, hash=AuditEvent.objects.get(seq=seq).hash)


def test_a_checkpoint_newer_than_the_restored_chain_is_a_warning_not_silence(store, caplog, capsys):
    record(8)
    assert audit_checkpoint()["seq"] == 8
    restore_to(5)
    record(1, start=6)  # the chain grows again, still behind the stored checkpoint

    with caplog.at_level("WARNING", logger="apps.audit.anchoring"):
        assert audit_checkpoint() is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1  # one line per run
    assert "#8" in warnings[0] and "#6" in warnings[0] and "verify_audit" in warnings[0]
    # verify_audit says so too (and records it: custody shows chain_intact false)
    with pytest.raises(CommandError):
        call_command("verify_audit")
    err = capsys.readouterr().err
    assert "checkpoint of audit event #8, but the database's chain ends at #6" in err


def test_a_chain_with_nothing_new_is_silent(store, caplog):
    record(3)
    audit_checkpoint()
    with caplog.at_level("WARNING", logger="apps.audit.anchoring"):
        assert audit_checkpoint() is None
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_long_backlog_is_signed_in_bounded_checkpoints(store, settings, capsys):
    # The first checkpoint after a year of history signed every event at once: 500,000 hashes in
    # one object, which the writer and verify_audit each held whole (600 MB to verify).
    settings.RTCC_AUDIT_CHECKPOINT_MAX_EVENTS = 3
    record(8)
    assert audit_checkpoint()["seq"] == 8
    documents = [json.loads(b"".join(store.iter_bytes(k))) for k in sorted(store.list_keys(CHECKPOINT_PREFIX))]
    assert [(d["after"], d["seq"], len(d["hashes"])) for d in documents] == [(0, 3, 3), (3, 6, 3), (6, 8, 2)]
    assert documents[-1]["hash"] == AuditHead.objects.get(id=1).hash
    call_command("verify_audit")
    assert "8 events verified, 3 checkpoints" in capsys.readouterr().out
    rewrite_history_from(5, details={"n": 5, "note": "nothing happened here"})
    with pytest.raises(CommandError):
        call_command("verify_audit")
    assert "rewritten from event #5" in capsys.readouterr().err
