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


# Facts and cells are plain slotted classes, not frozen ones: a grid read builds thousands.
@dataclass(slots=True)
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


@dataclass(slots=True)
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


def classify(
    *,
    attempts: int,
    passed: bool,
    grading: bool,
    last_attempt_at: datetime | None,
    last_edit_at: datetime | None,
    rule: StuckRule,
    now: datetime,
) -> tuple[CellState, bool, datetime | None]:
    """(state, stuck, last change) of one cell: rules 1 and 2."""
    if passed:
        state = CellState.PASSED
    elif attempts > 0:
        state = CellState.FAILING
    elif grading or last_edit_at is not None:
        state = CellState.WORKING
    else:
        return CellState.NOT_STARTED, False, None
    if last_edit_at is None or (last_attempt_at is not None and last_attempt_at > last_edit_at):
        changed = last_attempt_at
    else:
        changed = last_edit_at
    stuck = False
    if state is not CellState.PASSED and not grading:
        idle = changed is not None and now - changed >= timedelta(minutes=rule.minutes)
        stuck = attempts >= rule.attempts or idle
    return state, stuck, changed


def cell(facts: Facts, rule: StuckRule, now: datetime) -> Cell:
    """The cell of ``facts`` at ``now`` (timezone-aware)."""
    state, stuck, changed = classify(
        attempts=facts.attempts,
        passed=facts.passed,
        grading=facts.grading,
        last_attempt_at=facts.last_attempt_at,
        last_edit_at=facts.last_edit_at,
        rule=rule,
        now=now,
    )
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


def stuck_first(cells: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cells in their JSON form (:meth:`Cell.to_dict`), stuck ones first, stuck longest on
    top (``last_change_at`` is ISO UTC, so it sorts as text); the others in their order."""
    listed = list(cells)
    stuck = sorted((c for c in listed if c["stuck"]), key=lambda c: c["last_change_at"] or "")
    return stuck + [c for c in listed if not c["stuck"]]
