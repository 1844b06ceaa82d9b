"""The counters cover any window exactly once, from month, day and hour buckets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from apps.counters.selectors import counter_totals
from apps.counters.services import counter_add, floor_month

pytestmark = pytest.mark.django_db


def test_windows_count_each_event_once():
    rng = random.Random(7)
    base = datetime(2024, 11, 20, tzinfo=UTC)
    times = [base + timedelta(minutes=rng.randrange(0, 200 * 24 * 60)) for _ in range(300)]
    for at in times:
        counter_add(name="x", at=at)
    hours = [t.replace(minute=0, second=0, microsecond=0) for t in times]
    for _ in range(40):
        a = base + timedelta(hours=rng.randrange(0, 200 * 24))
        b = a + timedelta(hours=rng.randrange(1, 150 * 24))
        expected = sum(1 for h in hours if a <= h < b)
        assert counter_totals(start=a, end=b, names=["x"]).get("x", 0) == expected, (a, b)


def test_a_window_inside_an_hour_counts_that_hour_and_negative_adds_take_back():
    at = datetime(2025, 5, 5, 10, 20, tzinfo=UTC)
    counter_add(name="y", at=at, n=3)
    counter_add(name="y", at=at, n=-1)
    assert counter_totals(start=at, end=at + timedelta(minutes=1), names=["y"]) == {"y": 2}
    assert counter_totals(start=floor_month(at), end=floor_month(at) + timedelta(days=31), names=["y"]) == {"y": 2}
    assert counter_totals(start=at + timedelta(hours=1), end=at + timedelta(hours=2), names=["y"]) == {}
