"""One cell of the class grid (a student and an exercise) and the stuck rule.

Rule 1: the state follows the stored facts, most advanced first: ``passed`` (some attempt
passed), ``failing`` (attempts, none passed), ``working`` (no graded attempt yet, but a
submission is being graded or the student's file changed since the exercise opened),
``not_started``.
Rule 2: a cell is *stuck* when it is not passed and either has ``stuck_attempts`` failed
attempts or is started and unchanged for ``stuck_minutes``. Stuck cells sort first, the one
stuck longest (oldest last change) at the top; the rest keep the caller's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class CellState(StrEnum):
    NOT_STARTED = "not_started"
    WORKING = "working"
    FAILING = "failing"
    PASSED = "passed"


@dataclass(frozen=True)
class StuckRule:
    attempts: int = 3
    minutes: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.minutes <= 0:
            raise ValueError("stuck after at least 1 attempt and more than 0 minutes")


@dataclass(frozen=True)
class Facts:
    """What the store knows of one student on one exercise."""

    user_id: int
    exercise_id: str
    attempts: int = 0
    passed: bool = False
    best_score: float = 0.0
    max_score: float = 0.0
    grading: bool = False
    last_attempt_at: datetime | None = None
    last_edit_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Cell:
    user_id: int
    exercise_id: str
    state: CellState
    attempts: int
    best_score: float
    max_score: float
    last_error: str | None
    last_change_at: datetime | None
    stuck: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "exercise_id": self.exercise_id,
            "state": self.state.value,
            "attempts": self.attempts,
            "best_score": self.best_score,
            "max_score": self.max_score,
            "last_error": self.last_error,
            "last_change_at": self.last_change_at.isoformat() if self.last_change_at else None,
            "stuck": self.stuck,
        }


def _latest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None


def cell(facts: Facts, rule: StuckRule, now: datetime) -> Cell:
    """The cell of ``facts`` at ``now`` (timezone-aware)."""
    if facts.passed:
        state = CellState.PASSED
    elif facts.attempts > 0:
        state = CellState.FAILING
    elif facts.grading or facts.last_edit_at is not None:
        state = CellState.WORKING
    else:
        state = CellState.NOT_STARTED
    changed = _latest(facts.last_attempt_at, facts.last_edit_at)
    stuck = False
    if state in (CellState.FAILING, CellState.WORKING) and not facts.grading:
        idle = changed is not None and now - changed >= timedelta(minutes=rule.minutes)
        stuck = facts.attempts >= rule.attempts or idle
    return Cell(
        user_id=facts.user_id,
        exercise_id=facts.exercise_id,
        state=state,
        attempts=facts.attempts,
        best_score=facts.best_score,
        max_score=facts.max_score,
        last_error=facts.last_error if state is CellState.FAILING else None,
        last_change_at=changed,
        stuck=stuck,
    )


def stuck_first(cells: Iterable[Cell]) -> list[Cell]:
    """Stuck cells first, stuck longest on top; the others in their given order."""
    listed = list(cells)
    stuck = [c for c in listed if c.stuck]
    stuck.sort(key=lambda c: (c.last_change_at is None, c.last_change_at or datetime.max))
    return stuck + [c for c in listed if not c.stuck]


def stuck_students(cells: Iterable[Cell]) -> list[int]:
    """Students with a stuck cell, stuck longest first, each once."""
    seen: dict[int, None] = {}
    for c in stuck_first(cells):
        if c.stuck:
            seen.setdefault(c.user_id)
    return list(seen)
