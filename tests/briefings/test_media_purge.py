"""Photos uploaded for a briefing and never used are deleted a day later, row and objects (image
and thumbnail), on disk and in S3; a photo a briefing or a lead names is never touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify_chain
from apps.briefings import services, tasks
from apps.briefings.models import Media
from apps.core.errors import InvalidInput
from apps.integrations.models import StoreLeftover
from tests.briefings.conftest import jpeg

pytestmark = pytest.mark.django_db


def _photo(operator, *, age: timedelta = timedelta(hours=25)) -> Media:
    item = services.media_upload(actor=operator, data=jpeg((64, 48)))
    Media.objects.filter(pk=item.pk).update(created_at=timezone.now() - age)
    return Media.objects.get(pk=item.pk)


def _stored(store, item: Media) -> list[bool]:
    return [store.exists(item.image_key), store.exists(item.thumbnail_key)]


def _brief(operator, officer, item: Media):
    return services.briefing_create(
        actor=operator,
        priority="urgent",
        title="Suspect",
        audience={"officers": [str(officer.pk)]},
        suspects=[{"description": "red hoodie", "photo": str(item.pk)}],
    )


def test_a_photo_never_used_goes_a_day_after_upload_row_image_and_thumbnail(operator, officer, either_store):
    unused, fresh, used = _photo(operator), _photo(operator, age=timedelta(hours=1)), _photo(operator)
    _brief(operator, officer, used)
    assert Media.objects.get(pk=used.pk).in_use  # the briefing marked it
    assert _stored(either_store, unused) == [True, True]

    assert tasks.media_purge() == 1
    assert set(Media.objects.values_list("pk", flat=True)) == {fresh.pk, used.pk}
    assert _stored(either_store, unused) == [False, False]
    assert _stored(either_store, fresh) == [True, True] and _stored(either_store, used) == [True, True]
    assert not StoreLeftover.objects.exists()  # deleted now, nothing owed to the sweep
    assert AuditEvent.objects.filter(action="media.expire", object_id=str(unused.pk)).count() == 1
    assert audit_verify_chain().ok
    assert tasks.media_purge() == 0  # idempotent


def test_a_photo_a_briefing_names_without_having_marked_it_is_kept_and_marked(operator, officer, either_store):
    """A briefing saved by the previous release (during an upgrade) did not mark its photos."""
    item = _photo(operator)
    _brief(operator, officer, item)
    Media.objects.filter(pk=item.pk).update(in_use=False)

    assert tasks.media_purge() == 0
    assert Media.objects.get(pk=item.pk).in_use
    assert _stored(either_store, item) == [True, True]


def test_photos_a_lead_names_are_kept(operator, either_store):
    from apps.leads.services import lead_create

    probe, candidate, unmarked_probe = _photo(operator), _photo(operator), _photo(operator)
    lead_create(
        actor=operator,
        kind="facial_recognition",
        case_number="C-1",
        summary="match",
        probe_media=probe,
        candidates=[{"rank": 1, "photo": str(candidate.pk)}],
    )
    assert Media.objects.get(pk=probe.pk).in_use and Media.objects.get(pk=candidate.pk).in_use
    # a lead's probe image not marked (saved by the previous release): its foreign key keeps it
    lead_create(actor=operator, kind="facial_recognition", case_number="C-2", summary="m", probe_media=unmarked_probe)
    Media.objects.filter(pk=unmarked_probe.pk).update(in_use=False)

    assert tasks.media_purge() == 0
    assert Media.objects.count() == 3 and Media.objects.get(pk=unmarked_probe.pk).in_use


def test_a_briefing_naming_a_photo_deleted_as_unused_is_a_400(operator, officer, either_store):
    item = _photo(operator)
    assert tasks.media_purge() == 1
    with pytest.raises(InvalidInput):
        _brief(operator, officer, item)


def test_a_run_deletes_in_batches_within_its_time_budget(operator, settings, either_store):
    settings.RTCC_MEDIA_PURGE_BATCH = 2
    photos = [_photo(operator) for _ in range(5)]
    assert tasks.media_purge() == 5  # three transactions of at most two
    settings.RTCC_MEDIA_PURGE_TIME_BUDGET = 0  # one batch per run: the next run carries on
    more = [_photo(operator) for _ in range(3)]
    assert tasks.media_purge() == 2
    assert tasks.media_purge() == 1
    assert not Media.objects.filter(pk__in=[p.pk for p in photos + more]).exists()


def test_the_purge_is_in_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["rtcc-briefings-media-purge"]
    assert entry["task"] == "apps.briefings.tasks.media_purge"
    assert callable(tasks.media_purge)


@pytest.mark.services
def test_a_photo_a_briefing_is_naming_while_the_purge_runs_is_kept(transactional_db, operator, settings, tmp_path):
    """PostgreSQL, two connections: the briefing's transaction has marked the photo (its row is
    held) and not committed yet; the purge must pass it by, not wait and then delete it."""
    import threading

    from django.db import connection, transaction

    from tests import services as needed

    needed.require("postgres")
    settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR = None, tmp_path / "objects"
    item = _photo(operator)
    held, done = threading.Event(), threading.Event()

    def briefing_transaction():
        try:
            with transaction.atomic():
                services.media_hold(ids=[item.pk])
                held.set()
                done.wait(timeout=10)  # the purge, if it waits for this row, waits this long
        finally:
            connection.close()

    thread = threading.Thread(target=briefing_transaction)
    thread.start()
    assert held.wait(timeout=10)
    try:
        assert tasks.media_purge() == 0
    finally:
        done.set()
        thread.join(timeout=30)
    assert Media.objects.get(pk=item.pk).in_use


def test_a_candidates_photo_a_lead_names_without_having_marked_it_is_kept(operator, either_store):
    """A lead saved by the previous release (during an upgrade) did not mark its candidates'
    photos, and no foreign key names them: the purge deleted a facial recognition lead's photo."""
    from apps.leads.services import lead_create

    item = _photo(operator)
    lead_create(
        actor=operator,
        kind="facial_recognition",
        case_number="C-3",
        summary="match",
        candidates=[{"rank": 1, "photo": str(item.pk)}],
    )
    Media.objects.filter(pk=item.pk).update(in_use=False)

    assert tasks.media_purge() == 0
    assert Media.objects.get(pk=item.pk).in_use
    assert _stored(either_store, item) == [True, True]
