from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rooms.progress import ExerciseProgress, Graded, apply

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def graded(score: float, *, passed: bool, at: datetime, user: int = 1, ex: str = "ex-7") -> Graded:
    return Graded(user, ex, score, 10.0, passed, at)


def test_first_attempt_creates_progress() -> None:
    change = apply(None, graded(4, passed=False, at=T0))
    p = change.progress
    assert (p.attempts, p.best_score, p.passed, p.first_attempt_at) == (1, 4, False, T0)
    assert change.first_attempt and change.improved
    assert not change.first_pass and not change.first_perfect
    assert p.time_to_first_pass is None


def test_first_pass_is_reported_once_and_time_to_pass_measured() -> None:
    p = apply(None, graded(4, passed=False, at=T0)).progress
    second = apply(p, graded(8, passed=True, at=T0 + timedelta(minutes=3)))
    assert second.first_pass and not second.first_attempt
    assert second.progress.time_to_first_pass == timedelta(minutes=3)
    third = apply(second.progress, graded(6, passed=True, at=T0 + timedelta(minutes=5)))
    assert not third.first_pass and not third.improved
    assert third.progress.best_score == 8
    assert third.progress.attempts == 3
    assert third.progress.first_pass_at == T0 + timedelta(minutes=3)
    assert third.progress.last_attempt_at == T0 + timedelta(minutes=5)


def test_perfect_only_once() -> None:
    p = apply(None, graded(10, passed=True, at=T0))
    assert p.first_perfect and p.progress.perfect
    again = apply(p.progress, graded(10, passed=True, at=T0 + timedelta(seconds=1)))
    assert not again.first_perfect


def test_out_of_order_delivery_keeps_earliest_times() -> None:
    late = apply(None, graded(10, passed=True, at=T0 + timedelta(minutes=9))).progress
    early = apply(late, graded(10, passed=True, at=T0 + timedelta(minutes=2))).progress
    assert early.first_pass_at == T0 + timedelta(minutes=2)
    assert early.first_attempt_at == T0 + timedelta(minutes=2)
    assert early.last_attempt_at == T0 + timedelta(minutes=9)


def test_mismatched_progress_is_refused() -> None:
    other = ExerciseProgress(user_id=2, exercise_id="ex-7")
    with pytest.raises(ValueError, match="user 1 exercise ex-7"):
        apply(other, graded(1, passed=False, at=T0))


@pytest.mark.parametrize("bad", [{"score": -1.0}, {"max_score": -2.0}])
def test_negative_scores_are_refused(bad: dict[str, float]) -> None:
    fields: dict[str, object] = {
        "user_id": 1,
        "exercise_id": "e",
        "score": 1.0,
        "max_score": 1.0,
        "passed": True,
        "submitted_at": T0,
    }
    fields.update(bad)
    with pytest.raises(ValueError, match="must be >= 0"):
        Graded(**fields)  # type: ignore[arg-type]


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Graded(1, "e", 1.0, 1.0, True, datetime(2026, 1, 1))
