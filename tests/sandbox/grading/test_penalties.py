from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sandbox.grading.definitions import LateMode, LatePenalty, Penalties
from sandbox.grading.penalties import Applied, applicable, apply, attempt, late

DUE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
PER_DAY = LatePenalty(LateMode.PER_DAY, 10.0, max_percent=35.0)


@pytest.mark.parametrize(
    ("after", "percent", "reason"),
    [
        (timedelta(seconds=-1), None, None),
        (timedelta(0), None, None),
        (timedelta(seconds=1), 10.0, "1 day late"),
        (timedelta(days=1), 10.0, "1 day late"),
        (timedelta(days=1, seconds=1), 20.0, "2 days late"),
        (timedelta(days=3, hours=2), 35.0, "4 days late"),
    ],
)
def test_late_per_started_day_with_cap(
    after: timedelta, percent: float | None, reason: str | None
) -> None:
    applied = late(PER_DAY, DUE, DUE + after)
    if percent is None:
        assert applied is None
    else:
        assert applied == Applied("late", percent, reason or "")


def test_late_flat_and_no_due_date() -> None:
    flat = LatePenalty(LateMode.FLAT, 25.0)
    assert late(flat, DUE, DUE + timedelta(days=9)) == Applied("late", 25.0, "9 days late")
    assert late(flat, None, DUE) is None
    assert late(None, DUE, DUE + timedelta(days=9)) is None


def test_submission_time_in_another_zone_compares_as_an_instant() -> None:
    from datetime import timezone

    paris = timezone(timedelta(hours=1))
    on_time = datetime(2026, 12, 2, 0, 30, tzinfo=paris)  # 23:30 UTC
    assert late(PER_DAY, DUE, on_time) is None


@pytest.mark.parametrize(
    ("number", "percent"), [(1, None), (2, 10.0), (3, 20.0), (4, 20.0), (40, 20.0)]
)
def test_attempt_regime_repeats_the_last_value(number: int, percent: float | None) -> None:
    applied = attempt((0.0, 10.0, 20.0), number)
    assert (applied.percent if applied else None) == percent
    if applied is not None:
        assert applied.reason == f"attempt {number}"


def test_no_regime_means_no_attempt_penalty() -> None:
    assert attempt((), 7) is None


def test_penalties_add_up_and_cap_at_everything() -> None:
    rules = Penalties(late=PER_DAY, attempts=(0.0, 10.0, 20.0))
    found = applicable(rules, DUE, DUE + timedelta(hours=30), 3)
    assert found == [Applied("late", 20.0, "2 days late"), Applied("attempt", 20.0, "attempt 3")]
    assert apply(10.0, found) == 6.0
    assert apply(10.0, [Applied("late", 80.0, ""), Applied("attempt", 50.0, "")]) == 0.0
    assert apply(10.0, []) == 10.0
