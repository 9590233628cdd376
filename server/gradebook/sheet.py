"""The students-by-exercises table, with the attempt the instructor chose to keep per cell.

Rule 1: ``best`` keeps the graded attempt with the highest final score (the earliest of equal
ones); with no graded attempt it falls back to the latest, whose status says why.
Rule 2: ``latest`` keeps the last attempt, whatever its status.
Rule 3: a student who never tried an exercise still has a cell: ``status = "not attempted"``.
Rule 4: the students are the classroom's student members plus anyone who submitted (a student
removed later keeps their grades in the export).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select

from sandbox.grading import Exercise, Visibility, filter_for_student
from sandbox.grading.definitions import points_of
from sandbox.grading.schema import exercise_from_dict
from server.models import ExerciseRecord, Membership, Role, Submission, User
from server.models.clock import as_utc
from server.store import Store

NOT_ATTEMPTED = "not attempted"


class Keep(StrEnum):
    BEST = "best"
    LATEST = "latest"


@dataclass(frozen=True)
class Column:
    id: str
    title: str
    language: str
    max_score: float
    shown_max_score: float
    due: datetime | None


@dataclass(frozen=True)
class Cell:
    status: str
    attempts: int = 0
    submission_id: int | None = None
    attempt: int | None = None
    score: float | None = None
    max_score: float | None = None
    shown_score: float | None = None
    shown_max_score: float | None = None
    submitted_at: datetime | None = None
    results: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "attempts": self.attempts,
            "submission_id": self.submission_id,
            "attempt": self.attempt,
            "score": self.score,
            "max_score": self.max_score,
            "shown_score": self.shown_score,
            "shown_max_score": self.shown_max_score,
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
        }


@dataclass(frozen=True)
class Sheet:
    classroom_id: int
    keep: Keep
    columns: list[Column]
    students: list[tuple[int, str]]
    cells: dict[tuple[int, str], Cell]
    # Score overrides by hand (the cockpit), by submission id: shown beside the automatic grade.
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)

    def override(self, cell: Cell) -> dict[str, Any] | None:
        return self.overrides.get(cell.submission_id) if cell.submission_id else None

    def cell(self, user_id: int, exercise_id: str) -> Cell:
        return self.cells.get((user_id, exercise_id), Cell(NOT_ATTEMPTED))

    def to_dict(self) -> dict[str, Any]:
        return {
            "classroom_id": self.classroom_id,
            "keep": self.keep.value,
            "exercises": [
                {
                    "id": c.id,
                    "title": c.title,
                    "language": c.language,
                    "max_score": c.max_score,
                    "shown_max_score": c.shown_max_score,
                    "due": c.due.isoformat() if c.due else None,
                }
                for c in self.columns
            ],
            "students": [
                {
                    "id": user_id,
                    "name": name,
                    "grades": {
                        c.id: self.cell(user_id, c.id).to_dict()
                        | {"override": self.override(self.cell(user_id, c.id))}
                        for c in self.columns
                    },
                }
                for user_id, name in self.students
            ],
        }


def shown_max_score(exercise: Exercise, now: datetime) -> float:
    """The maximum a student sees at ``now``: without the after-due tests before the due date
    (the same share scoring.py gives ``before_due``)."""
    if exercise.due is None or now >= exercise.due:
        return exercise.max_score
    seen = sum(
        points_of(test) for test in exercise.tests if test.visibility is not Visibility.AFTER_DUE
    )
    return round(exercise.max_score * seen / exercise.test_points, 4)


# Not read for the whole table: the kept attempts' results are loaded afterwards.
HEAVY = (
    defer(cast("QueryableAttribute[Any]", Submission.results)),
    defer(cast("QueryableAttribute[Any]", Submission.files)),
)


@dataclass(frozen=True)
class Attempt:
    """A submission without its files and results (the table reads thousands of them)."""

    id: int
    user_id: int
    exercise_id: str
    attempt: int
    status: str
    score: float | None
    max_score: float | None
    submitted_at: datetime


def choose(rows: list[Attempt], keep: Keep) -> Attempt:
    """The kept attempt among one student's ``rows`` for one exercise (ordered by id)."""
    if keep is Keep.BEST:
        graded = [r for r in rows if r.status == "graded" and r.score is not None]
        if graded:
            return max(graded, key=lambda r: (r.score or 0.0, -r.id))
    return rows[-1]


async def build(store: Store, classroom_id: int, keep: Keep, now: datetime) -> Sheet:
    async with store.session() as session:
        records = list(
            (
                await session.exec(
                    select(ExerciseRecord)
                    .where(ExerciseRecord.classroom_id == classroom_id)
                    .order_by(col(ExerciseRecord.exercise_id))
                )
            ).all()
        )
        members = (
            await session.exec(
                select(User.id, User.name)
                .join(Membership, col(Membership.user_id) == User.id)
                .where(
                    Membership.classroom_id == classroom_id,
                    Membership.role == Role.STUDENT.value,
                )
            )
        ).all()
        found = await session.exec(
            select(Submission)
            .where(Submission.classroom_id == classroom_id)
            .order_by(col(Submission.id))
            .options(*HEAVY)
        )
        attempts = [
            Attempt(
                r.id or 0,
                r.user_id,
                r.exercise_id,
                r.attempt,
                r.status,
                r.score,
                r.max_score,
                r.submitted_at,
            )
            for r in found.all()
        ]
        names: dict[int, str] = {user_id: name for user_id, name in members if user_id is not None}
        missing = {r.user_id for r in attempts} - set(names)
        if missing:
            more = await session.exec(select(User.id, User.name).where(col(User.id).in_(missing)))
            names.update({user_id: name for user_id, name in more.all() if user_id is not None})
        grouped: dict[tuple[int, str], list[Attempt]] = {}
        for attempt in attempts:
            grouped.setdefault((attempt.user_id, attempt.exercise_id), []).append(attempt)
        kept = {key: choose(rows, keep) for key, rows in grouped.items()}
        results: dict[int, dict[str, Any] | None] = {}
        ids = [a.id for a in kept.values()]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            loaded = await session.exec(
                select(Submission.id, Submission.results).where(col(Submission.id).in_(chunk))
            )
            results.update({sid: dict(data) if data else None for sid, data in loaded.all() if sid})
    exercises = {r.exercise_id: exercise_from_dict(r.definition) for r in records}
    columns = [
        Column(
            r.exercise_id,
            r.title,
            r.language,
            exercises[r.exercise_id].max_score,
            shown_max_score(exercises[r.exercise_id], now),
            exercises[r.exercise_id].due,
        )
        for r in records
    ]
    cells = {}
    for key, chosen in kept.items():
        exercise = exercises.get(chosen.exercise_id)
        full = results.get(chosen.id)
        shown = full
        if full is not None and exercise is not None:
            shown = filter_for_student(full, exercise, now)
        cells[key] = Cell(
            status=chosen.status,
            attempts=len(grouped[key]),
            submission_id=chosen.id,
            attempt=chosen.attempt,
            score=chosen.score,
            max_score=chosen.max_score,
            shown_score=shown.get("score") if shown else None,
            shown_max_score=shown.get("max_score") if shown else None,
            submitted_at=as_utc(chosen.submitted_at),
            results=full,
        )
    students = sorted(names.items(), key=lambda item: (item[1].casefold(), item[0]))
    return Sheet(classroom_id, keep, columns, students, cells)
