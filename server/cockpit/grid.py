"""The class grid of a room, read in a handful of set queries (no per-student round trips).

Design note. Progress (attempts, best score, passed) is the gamification's ``progress`` table;
the last error of a cell is the ``attempt_errors`` row of its latest attempt; the time of a
student's last edit is the newest stored update of their ``students/{id}/…`` documents; an
exercise opened live in the room makes edits since then count as *working* on it. The stuck
rule and the order are :mod:`rooms.cockpit.cells`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, bindparam, case, func
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.cockpit.cells import Cell, CellState, Facts, StuckRule, cell, classify, stuck_first
from server.models import (
    AttemptError,
    DocSnapshot,
    DocUpdate,
    ExerciseRecord,
    LiveExercise,
    Membership,
    Progress,
    Role,
    Submission,
    User,
)
from server.models.clock import as_utc


@dataclass(frozen=True)
class ExerciseColumn:
    id: str
    title: str
    max_score: float
    rule: StuckRule

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "stuck_attempts": self.rule.attempts,
            "stuck_minutes": self.rule.minutes,
        }


def rule_of(definition: Mapping[str, Any]) -> StuckRule:
    """The stuck rule of a stored exercise definition (its ``thresholds``)."""
    raw = definition.get("thresholds") or {}
    return StuckRule(int(raw.get("stuck_attempts", 3)), float(raw.get("stuck_minutes", 10.0)))


async def exercises(session: AsyncSession, classroom_id: int) -> list[ExerciseColumn]:
    rows = await session.exec(
        select(ExerciseRecord)
        .where(ExerciseRecord.classroom_id == classroom_id)
        .order_by(col(ExerciseRecord.exercise_id))
    )
    return [ExerciseColumn(r.exercise_id, r.title, 0.0, rule_of(r.definition)) for r in rows.all()]


async def students(session: AsyncSession, classroom_id: int) -> list[dict[str, Any]]:
    rows = await session.exec(
        select(User.id, User.name)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(Membership.classroom_id == classroom_id, Membership.role == Role.STUDENT.value)
        .order_by(col(User.name), col(User.id))
    )
    return [{"id": uid, "name": name} for uid, name in rows.all()]


async def last_edits(session: AsyncSession, room_id: int) -> dict[int, datetime]:
    """When each student last changed one of their files in the room."""
    out: dict[int, datetime] = {}
    like = col(DocUpdate.doc).like("students/%")
    updates = await session.exec(
        select(DocUpdate.doc, func.max(DocUpdate.created_at))
        .where(DocUpdate.room_id == room_id, like)
        .group_by(col(DocUpdate.doc))
    )
    snapshots = await session.exec(
        select(DocSnapshot.doc, DocSnapshot.updated_at).where(
            DocSnapshot.room_id == room_id, col(DocSnapshot.doc).like("students/%")
        )
    )
    for doc, at in [*updates.all(), *snapshots.all()]:
        owner = doc.split("/")[1]
        if at is None or not owner.isdigit():
            continue
        when = as_utc(at)
        user = int(owner)
        if user not in out or when > out[user]:
            out[user] = when
    return out


async def opened_live(session: AsyncSession, room_id: int) -> dict[str, datetime]:
    rows = await session.exec(
        select(LiveExercise.exercise_id, func.max(LiveExercise.opened_at))
        .where(LiveExercise.room_id == room_id)
        .group_by(col(LiveExercise.exercise_id))
    )
    return {ex: as_utc(at) for ex, at in rows.all() if at is not None}


async def last_errors(session: AsyncSession, classroom_id: int) -> dict[tuple[int, str], str]:
    """The error line of each cell's latest graded attempt (empty when it passed)."""
    query = select(AttemptError.user_id, AttemptError.exercise_id, AttemptError.line).where(
        AttemptError.classroom_id == classroom_id, col(AttemptError.latest)
    )
    rows = await session.exec(query)
    return {(uid, ex): line for uid, ex, line in rows.all()}


ProgressRow = tuple[int, float, float, bool, datetime | None]
"""(attempts, best_score, max_score, passed, last_attempt_at) of one cell."""


def facts_of(
    progress: ProgressRow | None,
    user_id: int,
    exercise_id: str,
    *,
    error: str | None,
    edit: datetime | None,
    opened: datetime | None,
) -> Facts:
    attempts, best, top, passed, last = progress or (0, 0.0, 0.0, False, None)
    # An edit counts for this exercise once it was attempted, or opened live before the edit.
    counts = edit is not None and (attempts > 0 or (opened is not None and edit >= opened))
    return Facts(
        user_id=user_id,
        exercise_id=exercise_id,
        attempts=attempts,
        passed=bool(passed),
        best_score=best,
        max_score=top,
        last_attempt_at=as_utc(last) if last is not None else None,
        last_edit_at=edit if counts else None,
        last_error=error or None,
    )


async def room_grid(
    session: AsyncSession, room_id: int, classroom_id: int, now: datetime
) -> dict[str, Any]:
    """``{students, exercises, cells}`` of ``GET /api/rooms/{id}/progress``: one cell per
    student and exercise, stuck ones first (stuck longest on top). Rows are read as tuples:
    a class of 200 x 20 is 4,000 cells, and ORM objects would cost more than the queries."""
    columns = await exercises(session, classroom_id)
    people = await students(session, classroom_id)
    progress_rows = await session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types up to four columns
            Progress.user_id,
            Progress.exercise_id,
            Progress.attempts,
            Progress.best_score,
            Progress.max_score,
            Progress.passed,
            Progress.last_attempt_at,
        ).where(Progress.classroom_id == classroom_id)
    )
    progress = {(u, e): (a, b, m, p, t) for u, e, a, b, m, p, t in progress_rows.all()}
    errors = await last_errors(session, classroom_id)
    edits = await last_edits(session, room_id)
    opened = await opened_live(session, room_id)
    cells: list[dict[str, Any]] = []
    # The hot loop of the grid (4,000 cells for 200 x 20): one dict per cell, built directly
    # with the rule of rooms.cockpit.cells.classify; a cell without attempts or edits is
    # not started and needs no rule. The states are StrEnums: JSON writes their text.
    live = [(c.id, c.rule, opened.get(c.id)) for c in columns]
    for person in people:
        uid = person["id"]
        edit = edits.get(uid)
        for exercise_id, rule, start in live:
            row = progress.get((uid, exercise_id))
            if row is None and (edit is None or start is None or edit < start):
                cells.append(
                    {
                        "user_id": uid,
                        "exercise_id": exercise_id,
                        "state": CellState.NOT_STARTED,
                        "attempts": 0,
                        "best_score": 0.0,
                        "max_score": 0.0,
                        "last_error": None,
                        "last_change_at": None,
                        "stuck": False,
                    }
                )
                continue
            attempts, best, top, passed, last = row or (0, 0.0, 0.0, False, None)
            counts = edit is not None and (attempts > 0 or (start is not None and edit >= start))
            state, is_stuck, changed = classify(
                attempts=attempts,
                passed=bool(passed),
                grading=False,
                last_attempt_at=as_utc(last) if last is not None else None,
                last_edit_at=edit if counts else None,
                rule=rule,
                now=now,
            )
            failing = state is CellState.FAILING
            cells.append(
                {
                    "user_id": uid,
                    "exercise_id": exercise_id,
                    "state": state,
                    "attempts": attempts,
                    "best_score": best,
                    "max_score": top,
                    "last_error": (errors.get((uid, exercise_id)) or None) if failing else None,
                    "last_change_at": changed.isoformat() if changed is not None else None,
                    "stuck": is_stuck,
                }
            )
    return {
        "students": people,
        "exercises": [c.to_dict() for c in columns],
        "cells": stuck_first(cells),
    }


def _cell_statement() -> Any:
    """The statement of :func:`one_cell`, built once: building it (some eighty clause
    objects and their cache key) cost more than running it, on every grade."""
    classroom_id = bindparam("classroom_id", type_=Integer)
    user_id = bindparam("user_id", type_=Integer)
    room_id = bindparam("room_id", type_=Integer)
    exercise_id = bindparam("exercise_id", type_=String)
    prefix = bindparam("prefix", type_=String)
    graded = (
        (col(Submission.classroom_id) == classroom_id)
        & (col(Submission.exercise_id) == exercise_id)
        & (col(Submission.user_id) == user_id)
        & (col(Submission.status) == "graded")
    )
    error = (
        select(AttemptError.line)
        .where(
            col(AttemptError.classroom_id) == classroom_id,
            col(AttemptError.user_id) == user_id,
            col(AttemptError.exercise_id) == exercise_id,
            col(AttemptError.latest),
        )
        .limit(1)
        .scalar_subquery()
    )
    edited = (
        select(func.max(DocUpdate.created_at))
        .where(col(DocUpdate.room_id) == room_id, col(DocUpdate.doc).like(prefix))
        .scalar_subquery()
    )
    snapshot = (
        select(func.max(DocSnapshot.updated_at))
        .where(col(DocSnapshot.room_id) == room_id, col(DocSnapshot.doc).like(prefix))
        .scalar_subquery()
    )
    opened = (
        select(func.max(LiveExercise.opened_at))
        .where(col(LiveExercise.room_id) == room_id, col(LiveExercise.exercise_id) == exercise_id)
        .scalar_subquery()
    )
    name = select(User.name).where(col(User.id) == user_id).scalar_subquery()
    passed = func.coalesce(func.sum(case((col(Submission.passed), 1), else_=0)), 0)
    return select(  # type: ignore[call-overload]  # sqlmodel types up to four columns
        func.count(),
        func.max(Submission.score),
        func.max(Submission.max_score),
        func.max(Submission.submitted_at),
        passed,
        error,
        edited,
        snapshot,
        opened,
        name,
    ).where(graded)


_CELL = _cell_statement()


def one_cell(
    session: Session,
    *,
    room_id: int,
    classroom_id: int,
    user_id: int,
    exercise: ExerciseRecord,
    now: datetime,
) -> tuple[Cell, str | None]:
    """The cell of one student on one exercise (what ``progress.update`` carries) and the
    student's name (None when the user is gone), from the stored submissions: it is sent
    right after ``grade.result``, before the gamification step has folded the grade into
    ``progress``. One statement: the submissions' aggregates, with the cell's other facts
    as scalar subqueries, so a class's grading burst pays one round trip per cell. Synchronous:
    it runs on the store's session thread (:attr:`server.store.Store.threaded`)."""
    exercise_id = exercise.exercise_id
    params = {
        "classroom_id": classroom_id,
        "user_id": user_id,
        "exercise_id": exercise_id,
        "room_id": room_id,
        "prefix": f"students/{user_id}/%",
    }
    attempts, best, top, last, wins, line, update, snap, start, who = session.exec(
        _CELL, params=params
    ).one()
    row = (int(attempts or 0), float(best or 0.0), float(top or 0.0), bool(wins), last)
    times = [as_utc(t) for t in (update, snap) if t is not None]
    facts = facts_of(
        row,
        user_id,
        exercise_id,
        error=line,
        edit=max(times) if times else None,
        opened=as_utc(start) if start is not None else None,
    )
    return cell(facts, rule_of(exercise.definition), now), who
