"""Retention: reads with no hit go once past RTCC_ALPR_READ_RETENTION; reads behind a hit stay;
deletions are counted per day for the transparency report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from apps.alpr import services, tasks
from apps.alpr.models import Hit, Read, ReadCount
from apps.integrations.storage import get_storage
from rtcc import env
from tests.alpr.conftest import a_read, image_b64, post_reads

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, timedelta(days=30)),
        ("3m", timedelta(minutes=3)),
        ("48h", timedelta(hours=48)),
        ("30d", timedelta(days=30)),
    ],
)
def test_the_setting_reads_durations(value, expected, tmp_path):
    environ = {"RTCC_DATA_DIR": str(tmp_path), **({"RTCC_ALPR_READ_RETENTION": value} if value else {})}
    assert env.read(environ).alpr_read_retention == expected


@pytest.mark.parametrize("value", ["3", "3 weeks", "-3m", "0m", "m"])
def test_a_bad_duration_stops_the_start(value, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="RTCC_ALPR_READ_RETENTION"):
        env.read({"RTCC_DATA_DIR": str(tmp_path), "RTCC_ALPR_READ_RETENTION": value})


def test_reads_go_after_three_minutes_unless_a_hit_holds_them(settings, reader_api, stolen):
    settings.RTCC_ALPR_READ_RETENTION = timedelta(minutes=3)
    now = timezone.now()
    old = (now - timedelta(minutes=4)).isoformat()
    batch = [
        a_read("OLD0001", read_at=old, image=image_b64()),
        a_read("ABC1234", read_at=old),  # on the list: kept with its hit
        a_read("NEW0001", read_at=(now - timedelta(minutes=1)).isoformat()),
    ]
    assert post_reads(reader_api, batch).json()["accepted"] == 3
    key = Read.objects.get(plate_normalized="OLD0001").image_key
    assert get_storage().exists(key)
    assert tasks.expire_reads() == 1
    assert sorted(Read.objects.values_list("plate_normalized", flat=True)) == ["ABC1234", "NEW0001"]
    assert Hit.objects.get().read.plate_normalized == "ABC1234"
    assert not get_storage().exists(key)
    assert ReadCount.objects.get(day=now.date()).deleted == 1
    assert tasks.expire_reads() == 0  # idempotent


def test_deletes_go_in_bounded_batches(settings, reader_api):
    settings.RTCC_ALPR_READ_RETENTION = timedelta(minutes=3)
    settings.RTCC_ALPR_DELETE_BATCH = 2
    old = (timezone.now() - timedelta(minutes=10)).isoformat()
    post_reads(reader_api, [a_read(f"OLD000{i}", read_at=old) for i in range(5)])
    assert services.reads_expire() == 5
    assert Read.objects.count() == 0
    assert ReadCount.objects.get(day=timezone.now().date()).deleted == 5


def test_the_task_runs_every_minute():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["rtcc-alpr-expire-reads"]["schedule"] <= 60


def test_postgres_drops_whole_days_and_keeps_reads_behind_a_hit(postgres_db, settings, reader_api, stolen):
    from django.db import connection

    from apps.alpr import partitions

    settings.RTCC_ALPR_READ_RETENTION = timedelta(days=1)
    now = timezone.now()
    day = (now - timedelta(days=3)).date()
    assert partitions.ensure_partitions(today=day, ahead=0) == [partitions.partition_name(day)]
    at = (now - timedelta(days=3)).replace(hour=12).isoformat()
    batch = [a_read(f"OLD000{i}", read_at=at) for i in range(4)] + [a_read("ABC1234", read_at=at)]
    assert len(post_reads(reader_api, batch).json()["hits"]) == 1
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{partitions.partition_name(day)}"')
        assert cursor.fetchone()[0] == 5
    assert services.reads_expire() == 4
    with connection.cursor() as cursor:
        assert day not in partitions.existing_partitions(cursor)
        # today's and the next days' partitions are there for new reads
        assert timezone.now().date() in partitions.existing_partitions(cursor)
    assert list(Read.objects.values_list("plate_normalized", flat=True)) == ["ABC1234"]
    assert Hit.objects.get().read.plate_normalized == "ABC1234"
    assert ReadCount.objects.get(day=now.date()).deleted == 4


def test_an_image_the_store_refuses_to_delete_is_deleted_by_the_sweep(settings, reader_api, store_fails, either_store):
    """The read expires while the store refuses: the read goes, its image's key is remembered,
    and the leftover sweep deletes the image once the store answers again; none is left behind."""
    from apps.integrations import tasks as integration_tasks
    from apps.integrations.models import StoreLeftover

    bucket, root = settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR
    settings.RTCC_ALPR_READ_RETENTION = timedelta(minutes=3)
    old = (timezone.now() - timedelta(minutes=4)).isoformat()
    assert post_reads(reader_api, [a_read("OLD0001", read_at=old, image=image_b64())]).json()["accepted"] == 1
    key = Read.objects.get().image_key

    store_fails(s3=either_store.name == "s3")
    assert tasks.expire_reads() == 1
    assert not Read.objects.exists()
    leftover = StoreLeftover.objects.get()
    assert (leftover.key, leftover.reason, leftover.attempts) == (key, "plate read expired", 1)
    assert integration_tasks.delete_leftovers() == {"deleted": 0, "failed": 1}  # still refused: kept, counted
    assert StoreLeftover.objects.get().attempts == 2 and StoreLeftover.objects.get().last_error

    settings.RTCC_S3_BUCKET, settings.RTCC_STORAGE_DIR = bucket, root  # the store answers again
    assert get_storage().exists(key)
    assert integration_tasks.delete_leftovers() == {"deleted": 1, "failed": 0}
    assert not get_storage().exists(key)
    assert not StoreLeftover.objects.exists()
    assert integration_tasks.delete_leftovers() == {"deleted": 0, "failed": 0}


def test_an_expired_reads_image_is_owed_a_delete_from_the_commit_that_deleted_its_row(settings, reader_api):
    """The row's deletion and the image's debt commit together: a worker killed between the commit
    and the delete (the store slow, the worker out of memory) leaves the image to the sweep, where
    it was left in the store for good. Rolled back, neither happened; deleted, nothing is owed."""
    from django.db import transaction

    from apps.integrations import leftovers
    from apps.integrations.models import StoreLeftover

    with pytest.raises(RuntimeError), transaction.atomic():
        leftovers.intend(["alpr/reads/20260101/x.jpg"], reason="plate read expired")
        raise RuntimeError("the deletion failed")
    assert not StoreLeftover.objects.exists()
    leftovers.intend(["alpr/reads/20260101/x.jpg"], reason="plate read expired")
    assert StoreLeftover.objects.get().last_error == "not deleted yet"  # owed from the commit on
    assert leftovers.delete_intended(["alpr/reads/20260101/x.jpg"], reason="plate read expired") == 0
    assert not StoreLeftover.objects.exists()

    settings.RTCC_ALPR_READ_RETENTION = timedelta(minutes=3)
    old = (timezone.now() - timedelta(minutes=4)).isoformat()
    assert post_reads(reader_api, [a_read("OLD0001", read_at=old, image=image_b64())]).json()["accepted"] == 1
    key = Read.objects.get().image_key
    assert tasks.expire_reads() == 1
    assert not get_storage().exists(key) and not StoreLeftover.objects.exists()


def test_the_leftover_sweep_is_scheduled():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["rtcc-integrations-delete-leftovers"]["schedule"] <= 600


@pytest.mark.services
def test_an_expired_reads_image_leaves_no_version_behind_on_a_versioned_bucket(settings, reader_api, lock_store):
    """On an Object Lock bucket a plain delete only adds a delete marker and keeps the bytes as an
    older version: an expired read's image is deleted version by version, none left to restore."""
    settings.RTCC_ALPR_READ_RETENTION = timedelta(minutes=3)
    old = (timezone.now() - timedelta(minutes=4)).isoformat()
    assert post_reads(reader_api, [a_read("OLD0001", read_at=old, image=image_b64())]).json()["accepted"] == 1
    key = Read.objects.get().image_key

    def versions():
        listed = lock_store.client.list_object_versions(Bucket=lock_store.bucket, Prefix=key)
        return [v for v in listed.get("Versions", []) + listed.get("DeleteMarkers", []) if v["Key"] == key]

    assert len(versions()) == 1
    assert tasks.expire_reads() == 1
    assert versions() == []


@pytest.mark.services  # PostgreSQL's partitions
@pytest.mark.django_db(transaction=True)
def test_postgres_owes_a_dropped_days_images_without_holding_the_reads_table(settings, reader_api, stolen):
    # A dropped day's images are owed a delete, one row each (10 million reads a day at the design's
    # scale). Written while DETACH's ACCESS EXCLUSIVE lock on alpr_read was held, every ingest and
    # search waited for them: 56,000 images kept a plate search waiting 28 s.
    from django.db import connection

    from apps.alpr import partitions
    from tests import services as needed

    needed.require("postgres")
    now = timezone.now()
    day = (now - timedelta(days=3)).date()
    partitions.ensure_partitions(today=day, ahead=0)
    at = (now - timedelta(days=3)).replace(hour=12).isoformat()
    batch = [a_read(f"OLD000{i}", read_at=at, image=image_b64()) for i in range(2)] + [a_read("ABC1234", read_at=at)]
    assert len(post_reads(reader_api, batch).json()["hits"]) == 1
    owed = []

    def before_commit(keys):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND relation = 'alpr_read'::regclass"
            )
            owed.append((keys, [mode for (mode,) in cursor.fetchall()]))

    deleted, keys, dropped = partitions.drop_partitions_before(now - timedelta(days=1), before_commit=before_commit)
    assert deleted == 2 and len(keys) == 2 and partitions.partition_name(day) in dropped
    assert sorted(k for batch, _ in owed for k in batch) == sorted(keys)
    assert all(modes == [] for _, modes in owed), owed  # the reads table is free meanwhile
    assert list(Read.objects.values_list("plate_normalized", flat=True)) == ["ABC1234"]  # the hit's read stays
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'alpr_read_x%%'")
        assert cursor.fetchone()[0] == 0  # nothing detached is left behind


def detached_day_of_reads(reader_api, count: int, *, image: str | None = None):
    """A day three days ago holding `count` reads, detached and renamed as the first step of the
    retention drop leaves it (partitions.drop_partitions_before); returns the day."""
    from django.db import connection

    from apps.alpr import partitions

    day = (timezone.now() - timedelta(days=3)).date()
    partitions.ensure_partitions(today=day, ahead=0)
    at = (timezone.now() - timedelta(days=3)).replace(hour=12).isoformat()
    extra = {"image": image} if image else {}
    post_reads(reader_api, [a_read(f"OLD000{i}", read_at=at, **extra) for i in range(count)])
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE alpr_read DETACH PARTITION "{partitions.partition_name(day)}"')
        cursor.execute(f'ALTER TABLE "{partitions.partition_name(day)}" RENAME TO "{partitions.expired_name(day)}"')
    return day


@pytest.mark.services  # PostgreSQL's partitions
@pytest.mark.django_db(transaction=True)
def test_postgres_finishes_a_day_a_dead_run_detached(settings, reader_api):
    from django.db import connection

    from tests import services as needed

    needed.require("postgres")
    now = timezone.now()
    detached_day_of_reads(reader_api, 3, image=image_b64())  # the first step committed, then the worker died
    assert services.reads_expire() == 3
    assert ReadCount.objects.get(day=now.date()).deleted == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'alpr_read_x%%'")
        assert cursor.fetchone()[0] == 0


@pytest.mark.services  # PostgreSQL's partitions
@pytest.mark.django_db(transaction=True)
def test_postgres_a_run_leaves_a_detached_day_to_the_run_finishing_it(settings, reader_api):
    # At 10 million reads a day, finishing a detached day takes minutes under the table's lock; each
    # minute's run waited for it, holding a worker slot (three stacked up while the probe loaded data).
    import psycopg
    from django.db import connection

    from apps.alpr import partitions
    from tests import services as needed
    from tests.helpers import database_url_for_subprocess

    needed.require("postgres")
    partitions.ensure_partitions()  # today's and the days ahead are there: the run creates none
    day = detached_day_of_reads(reader_api, 2)  # the first step committed
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '5s'")  # waiting for the other run fails this test, not hangs it
    try:
        with psycopg.connect(database_url_for_subprocess(), autocommit=True) as other:  # another run, finishing it
            other.execute("SELECT pg_advisory_lock(hashtext('alpr_read'))")
            assert services.reads_expire() == 0
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partitions.expired_name(day)])
                assert cursor.fetchone()[0]  # left to the other run
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert services.reads_expire() == 2  # the other run died: the next one finishes the day
