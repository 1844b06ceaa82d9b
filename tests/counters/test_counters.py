"""The counters cover any window exactly once, from month, day and hour buckets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection, transaction

from apps.counters.models import Count
from apps.counters.selectors import counter_series, counter_totals
from apps.counters.services import counter_add, floor_month
from tests.helpers import transaction_held_open

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


def test_a_bucket_kept_in_several_rows_is_read_as_one():
    """Whatever shard each adding landed on, totals and series give the bucket's one number."""
    at = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
    for _ in range(40):
        counter_add(name="z", at=at)
    assert Count.objects.filter(name="z", level="h").count() > 1  # 40 adds over 8 rows: never all on one
    assert counter_totals(start=at, end=at + timedelta(hours=1), names=["z"]) == {"z": 40}
    series = counter_series(start=floor_month(at), end=floor_month(at) + timedelta(days=30), period="day", names=["z"])
    assert series == {datetime(2025, 6, 2, tzinfo=UTC): {"z": 40}}


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_counting_does_not_wait_for_another_open_transaction_counting_the_same_thing(postgres_db):
    """A transaction that counted something holds what it added until it commits; others counting
    the same thing meanwhile go on (the first looks of many viewers at once used to queue here)."""
    done = waited = 0
    with transaction_held_open(lambda: counter_add(name="busy")):
        for _ in range(24):
            try:
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL lock_timeout = '300ms'")
                    counter_add(name="busy")
                done += 1
            except OperationalError:  # landed on the holder's row: it would have waited
                waited += 1
    assert done >= 12, (done, waited)  # one row in eight is the holder's
    now = datetime.now(UTC)
    assert counter_totals(start=now - timedelta(hours=1), end=now + timedelta(hours=1), names=["busy"]) == {
        "busy": done + 1
    }


def test_a_recent_window_counts_the_events_inside_it_not_its_whole_hours(exact_since_two_days_ago):
    """The contract: each count is of events inside the window. Hour buckets alone counted an
    event at 10:05 in a window of 10:20 to 10:50."""
    from apps.counters.selectors import counted_window

    now = datetime.now(UTC).replace(microsecond=0)
    hour = now.replace(minute=0, second=0) - timedelta(hours=3)  # a whole hour, well inside the past
    times = [hour + timedelta(minutes=m) for m in (5, 20, 35, 50, 65, 130)]
    for at in times:
        counter_add(name="w", at=at)
    for a, b in (
        (hour + timedelta(minutes=10), hour + timedelta(minutes=40)),  # inside one hour
        (hour + timedelta(minutes=20), hour + timedelta(minutes=50)),  # from is inside, to is not
        (hour + timedelta(minutes=30), hour + timedelta(minutes=131)),  # across two hour boundaries
        (hour, hour + timedelta(hours=1)),  # whole hours still count whole
        (hour - timedelta(minutes=1), hour + timedelta(minutes=5, microseconds=1)),
    ):
        expected = sum(1 for t in times if a <= t < b)
        assert counter_totals(start=a, end=b, names=["w"]).get("w", 0) == expected, (a, b)
        assert counted_window(a, b) == (a, b)
    series = counter_series(start=hour + timedelta(minutes=10), end=now, period="day", names=["w"])
    assert sum(counts["w"] for counts in series.values()) == 5


def test_a_window_starting_before_the_exact_rows_is_taken_in_whole_hours(exact_since_two_days_ago):
    from apps.counters.selectors import counted_window

    hour = exact_since_two_days_ago.replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    at = hour + timedelta(minutes=20)  # 20 minutes into an hour, whatever the clock says now
    counter_add(name="v", at=at)
    start, end = at + timedelta(minutes=1), at + timedelta(minutes=2)
    assert counter_totals(start=start, end=end, names=["v"]) == {"v": 1}  # its whole hour
    assert counted_window(start, end) == (hour, hour + timedelta(hours=1))


def test_exact_rows_are_pruned_after_a_week_and_the_hours_keep_counting(exact_since_two_days_ago):
    from apps.counters.models import EXACT_SINCE
    from apps.counters.services import counters_prune

    old, recent = datetime.now(UTC) - timedelta(days=8), datetime.now(UTC) - timedelta(days=1)
    counter_add(name="p", at=old)
    counter_add(name="p", at=recent)
    assert counters_prune() == 1
    assert list(Count.objects.filter(level="e", name="p").values_list("start", flat=True)) == [recent]
    assert Count.objects.filter(level="e", name=EXACT_SINCE).exists()
    assert counter_totals(start=old - timedelta(hours=1), end=old + timedelta(hours=1), names=["p"]) == {"p": 1}


def test_a_new_install_counts_a_backdated_event_exactly():
    """A new install's exact rows cover every event it counts, backdated ones too (an assist
    logged for three days ago): a window starting before the install is exact, where it was
    taken in whole hours and counted the event outside it (migration 0004)."""
    from apps.counters import selectors
    from apps.counters.selectors import counted_window

    selectors._since.clear()
    at = (datetime.now(UTC) - timedelta(days=3)).replace(minute=20, second=0, microsecond=0)
    counter_add(name="b", at=at)
    start, end = at + timedelta(microseconds=1), at + timedelta(minutes=30)
    assert counter_totals(start=start, end=end, names=["b"]) == {}
    assert counted_window(start, end) == (start, end)
    assert counter_totals(start=at, end=end, names=["b"]) == {"b": 1}
    selectors._since.clear()


def test_a_window_starting_before_the_exact_rows_ends_where_it_ends(exact_since_two_days_ago):
    """Its start is taken from the top of its hour, its end exactly: a report to 20:43 counted the
    events to 21:00."""
    from apps.counters.selectors import counted_window

    since = exact_since_two_days_ago
    after = since.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2, minutes=30)
    counter_add(name="t", at=after - timedelta(minutes=10))  # inside the window
    counter_add(name="t", at=after + timedelta(minutes=10))  # after its end, in the same hour
    start, end = since - timedelta(hours=5), after
    assert counter_totals(start=start, end=end, names=["t"]) == {"t": 1}
    assert counted_window(start, end) == (start.replace(minute=0, second=0, microsecond=0), end)


def test_events_counted_before_the_exact_rows_in_their_first_hour_are_still_counted():
    """An upgrade from a release without exact rows (migration 0003) marks them as beginning at
    its own instant, mid-hour: the events the old release counted earlier in that hour have only
    their hour row. A report ending inside that hour (the transparency report and the outcome
    statistics just after the upgrade: they end now) took whole hours to its top and exact rows
    after it, so those events counted in neither: every count fell after the upgrade, and a
    window ending in that hour missed them for the exact rows' week."""
    from apps.counters import selectors
    from apps.counters.models import EXACT_SINCE
    from apps.counters.selectors import counted_window

    hour = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    upgraded = hour + timedelta(minutes=30)
    counter_add(name="u", at=hour + timedelta(minutes=10))  # counted by the old release:
    Count.objects.filter(level="e", name="u").delete()  # its hour, day and month rows, no exact row
    counter_add(name="u", at=hour + timedelta(minutes=40))  # counted after the upgrade
    Count.objects.filter(level="e", name=EXACT_SINCE).delete()
    Count.objects.create(level="e", start=upgraded, name=EXACT_SINCE, n=0)
    selectors._since.clear()
    try:
        start, end = hour - timedelta(days=1), datetime.now(UTC)
        assert counter_totals(start=start, end=end, names=["u"]) == {"u": 2}
        series = counter_series(start=start, end=end, period="day", names=["u"])
        assert sum(counts["u"] for counts in series.values()) == 2
        inside = hour + timedelta(minutes=50)  # a window ending inside that hour takes it whole
        assert counter_totals(start=start, end=inside, names=["u"]) == {"u": 2}
        assert counted_window(start, inside) == (start.replace(minute=0), hour + timedelta(hours=1))
        later = hour + timedelta(hours=2, minutes=5)  # past that hour, a window ends where it ends
        assert counted_window(start, later) == (start.replace(minute=0), later)
    finally:
        selectors._since.clear()
