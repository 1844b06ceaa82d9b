"""Verification reads a stored object back as parallel ranged GETs, hashed in order: the digest is
the object's, whatever the part boundaries, and a missing object says so."""

import hashlib
import io
import os

import pytest

from apps.footage.ingest.services import object_digest
from apps.integrations.storage import ObjectMissingError

pytestmark = pytest.mark.services


def test_parallel_ranged_reads_give_the_object_back_in_order(s3):
    data = os.urandom(5 * 1024 * 1024 + 12345)  # parts of 1 MiB: five whole ones and a short last
    s3.put("test/parallel.bin", io.BytesIO(data))
    parts = list(s3.iter_bytes_parallel("test/parallel.bin", part_size=1024 * 1024, parallel=3))
    assert [len(p) for p in parts] == [1024 * 1024] * 5 + [12345]
    assert b"".join(parts) == data
    assert object_digest("test/parallel.bin", storage=s3) == (len(data), hashlib.sha256(data).hexdigest())


def test_a_missing_object_is_named_not_hashed_as_empty(s3):
    with pytest.raises(ObjectMissingError):
        object_digest("test/never-stored.bin", storage=s3)
