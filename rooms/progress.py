"""A student's progress on one exercise, updated from one graded submission at a time.

Pure: :func:`apply` takes the previous :class:`ExerciseProgress` (or ``None`` for the first
attempt) and a :class:`Graded` event and returns the new state plus what changed, which the
XP rules and the achievement evaluator read. Times are timezone-aware UTC datetimes given by
the caller; nothing here reads a clock.

Submissions may be delivered out of order (two processes, a retry), so first-attempt and
first-pass times are minima, not "the time of the event that came first".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Graded:
    """One graded submission, as the grader reports it."""

    user_id: int
    exercise_id: str
    score: float
    max_score: float
    passed: bool
    submitted_at: datetime

    def __post_init__(self) -> None:
        if self.max_score < 0 or self.score < 0:
            raise ValueError(f"score {self.score} and max_score {self.max_score} must be >= 0")
        if self.submitted_at.tzinfo is None:
            raise ValueError("submitted_at must be timezone-aware")

    @property
    def perfect(self) -> bool:
        return self.max_score > 0 and self.score >= self.max_score


@dataclass(frozen=True)
class ExerciseProgress:
    user_id: int
    exercise_id: str
    attempts: int = 0
    best_score: float = 0.0
    max_score: float = 0.0
    passed: bool = False
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    first_pass_at: datetime | None = None

    @property
    def perfect(self) -> bool:
        return self.max_score > 0 and self.best_score >= self.max_score

    @property
    def time_to_first_pass(self) -> timedelta | None:
        """From the first attempt to the first passing one; ``None`` until it passed."""
        if self.first_pass_at is None or self.first_attempt_at is None:
            return None
        return self.first_pass_at - self.first_attempt_at


@dataclass(frozen=True)
class ProgressChange:
    """The new state and the facts the XP rules and achievements react to."""

    progress: ExerciseProgress
    first_attempt: bool
    first_pass: bool
    improved: bool
    first_perfect: bool


def apply(previous: ExerciseProgress | None, event: Graded) -> ProgressChange:
    """Fold one graded submission into the progress of its user on its exercise."""
    if previous is None:
        previous = ExerciseProgress(user_id=event.user_id, exercise_id=event.exercise_id)
    elif (previous.user_id, previous.exercise_id) != (event.user_id, event.exercise_id):
        raise ValueError(
            f"event for user {event.user_id} exercise {event.exercise_id} applied to progress "
            f"of user {previous.user_id} exercise {previous.exercise_id}"
        )
    at = event.submitted_at
    first_pass_at = previous.first_pass_at
    if event.passed and (first_pass_at is None or at < first_pass_at):
        first_pass_at = at
    progress = replace(
        previous,
        attempts=previous.attempts + 1,
        best_score=max(previous.best_score, event.score),
        # The exercise's points may be edited between attempts; keep the latest scale.
        max_score=event.max_score,
        passed=previous.passed or event.passed,
        first_attempt_at=_earliest(previous.first_attempt_at, at),
        last_attempt_at=_latest(previous.last_attempt_at, at),
        first_pass_at=first_pass_at,
    )
    return ProgressChange(
        progress=progress,
        first_attempt=previous.attempts == 0,
        first_pass=event.passed and not previous.passed,
        improved=event.score > previous.best_score,
        first_perfect=event.perfect and not previous.perfect,
    )


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _latest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a
