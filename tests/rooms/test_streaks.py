from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rooms.streaks import Streak, from_days, local_day, record

D0 = date(2026, 11, 20)


def days(*offsets: int) -> list[date]:
    return [D0 + timedelta(days=o) for o in offsets]


def test_consecutive_days_extend_and_same_day_does_not() -> None:
    s = Streak()
    for d in days(0, 1, 2):
        change = record(s, d)
        assert change.extended
        s = change.streak
    assert (s.current, s.longest) == (3, 3)
    same = record(s, D0 + timedelta(days=2))
    assert not same.extended and same.streak == s


def test_gap_resets_and_reports_broken_keeping_longest() -> None:
    s = from_days(days(0, 1, 2))
    change = record(s, D0 + timedelta(days=5))
    assert change.broken and change.extended
    assert (change.streak.current, change.streak.longest) == (1, 3)


def test_a_one_day_streak_is_not_broken() -> None:
    change = record(from_days(days(0)), D0 + timedelta(days=3))
    assert not change.broken


def test_older_activity_changes_nothing() -> None:
    s = from_days(days(3, 4))
    assert record(s, D0).streak == s


def test_as_of_survives_until_a_full_day_is_missed() -> None:
    s = from_days(days(0, 1))
    assert s.as_of(D0 + timedelta(days=1)) == 2
    assert s.as_of(D0 + timedelta(days=2)) == 2
    assert s.as_of(D0 + timedelta(days=3)) == 0
    assert Streak().as_of(D0) == 0


def test_from_days_ignores_order_and_duplicates() -> None:
    s = from_days([*days(5, 1, 2, 3), *days(2, 2)])
    assert (s.current, s.longest, s.last_day) == (1, 3, D0 + timedelta(days=5))


def test_local_day_follows_the_classroom_timezone() -> None:
    # 23:30 UTC on the 20th is already the 21st in Tokyo and still the 20th in New York.
    at = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    assert local_day(at) == date(2026, 11, 20)
    assert local_day(at, "Asia/Tokyo") == date(2026, 11, 21)
    assert local_day(at - timedelta(hours=20), "America/New_York") == date(2026, 11, 19)


def test_a_tokyo_morning_class_keeps_its_streak_across_utc_midnight() -> None:
    mornings = [datetime(2026, 11, d, 23, 0, tzinfo=UTC) for d in (20, 21, 22)]
    assert from_days(local_day(m, "Asia/Tokyo") for m in mornings).current == 3


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        local_day(datetime(2026, 1, 1, tzinfo=UTC), "Mars/Olympus")
    with pytest.raises(ValueError, match="timezone-aware"):
        local_day(datetime(2026, 1, 1))


@given(st.lists(st.integers(min_value=0, max_value=40), max_size=30))
def test_folding_days_in_order_matches_rebuilding(offsets: list[int]) -> None:
    ordered = sorted(D0 + timedelta(days=o) for o in offsets)
    s = Streak()
    for d in ordered:
        s = record(s, d).streak
    assert s == from_days(reversed(ordered))
    assert s.current <= s.longest
    if ordered:
        # the current streak is the run of consecutive days ending on the last one
        run = 1
        days_set = set(ordered)
        while ordered[-1] - timedelta(days=run) in days_set:
            run += 1
        assert s.current == run
