"""The cockpit of one process: what each graded attempt failed on, the staff's live grid
(``progress.update``), and its hints and feedback parts.

Design note. The grader tells the cockpit of every stored grade (a regrade too): before
``grade.result`` goes out, :meth:`Cockpit.record` stores the attempt's first failed test and
error line, normalised (``attempt_errors``), and every test's verdict (``attempt_outcomes``),
replacing what an earlier grade of the same submission wrote, so a student's next look at
their hints counts it; right after, :meth:`Cockpit.progress_update` sends the staff the
student's new cell. A failure here is logged and never reaches the grade, already stored.
Both are one hop to the store's session thread (server/thread_sessions.py), the record one
transaction there: when a class submits at once, thirty chains of async statements no longer
interleave on the loop that grades and fans out.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Integer, String, Table, bindparam, exists, func, insert, or_
from sqlmodel import Session, delete, select, update

from rooms.cockpit.cells import Cell
from rooms.cockpit.errors import first_failure, owning_test, signature, verdicts
from rooms.events import STAFF_AUDIENCE
from sandbox.output import storable
from server.cockpit.feedback import Feedback
from server.cockpit.grid import one_cell
from server.cockpit.help import Hints
from server.courses.exercises import exercise_record
from server.events.hub import RoomHub
from server.gamification.game import Gamification
from server.models import AttemptError, AttemptOutcome, Submission
from server.models.clock import as_utc, utcnow
from server.store import Store, insert_all

log = logging.getLogger("classroom.cockpit")


class Cockpit:
    def __init__(
        self,
        store: Store,
        hub: RoomHub,
        gamification: Gamification,
        max_comments_per_doc: int = 0,
    ) -> None:
        self.store = store
        self.hub = hub
        self.hints = Hints(store, hub, gamification)
        self.feedback = Feedback(store, hub, max_comments_per_doc)

    async def start(self) -> None:
        """Nothing to open: everything is read from the store when asked."""

    async def close(self) -> None:
        """Nothing to close."""

    async def record(self, row: Submission) -> None:
        """Store what ``row`` (just graded) failed on; called before ``grade.result`` goes
        out. A failure is logged: the grade itself is already stored."""
        try:
            await self._record(row)
        except Exception:
            log.error("cockpit: recording submission %s failed", row.id, exc_info=True)

    async def progress_update(self, room_id: int, row: Submission) -> None:
        """Send the student's new cell to the staff of ``room_id`` (``progress.update``)."""
        try:
            event = await self.progress_event(
                room_id, row.classroom_id, row.user_id, row.exercise_id
            )
        except Exception:
            log.error("room %s: progress.update of %s failed", room_id, row.id, exc_info=True)
            return
        if event is not None:
            await self.hub.publish(room_id, STAFF_AUDIENCE, event)

    async def _record(self, row: Submission) -> None:
        if row.status == "graded":
            await self.store.threaded.write(partial(_store_attempt, row=row))

    async def progress_event(
        self,
        room_id: int,
        classroom_id: int,
        user_id: int,
        exercise_id: str,
        now: datetime | None = None,
    ) -> dict[str, Any] | None:
        """``progress.update {room_id, student, cell}`` for one cell, or None when the
        exercise is gone."""
        found = await self.store.threaded.read(
            partial(
                _cell,
                room_id=room_id,
                classroom_id=classroom_id,
                user_id=user_id,
                exercise_id=exercise_id,
                now=now or utcnow(),
            )
        )
        if found is None:
            return None
        cell, name = found
        return {
            "type": "progress.update",
            "room_id": room_id,
            "student": {"id": user_id, "name": name if name is not None else f"#{user_id}"},
            "cell": cell.to_dict(),
        }


def _attempt_statements() -> tuple[Any, Any, Any, Any]:
    """The statements :func:`_store_attempt` runs, built once (building them cost more than
    running them): whether the submission has stored rows, their deletion, and the flag of
    the cell's newest attempt. Core statements on the tables: the session holds no objects."""
    errors: Table = AttemptError.__table__  # type: ignore[attr-defined]
    outcomes: Table = AttemptOutcome.__table__  # type: ignore[attr-defined]
    submission = bindparam("submission_id", type_=Integer)
    stored = select(
        or_(
            exists().where(outcomes.c.submission_id == submission),
            exists().where(errors.c.submission_id == submission),
        )
    )
    forget = (
        delete(outcomes).where(outcomes.c.submission_id == submission),
        delete(errors).where(errors.c.submission_id == submission),
    )
    # Flag the newest attempt of the row's cell as ``latest`` (and only it): grades may be
    # stored out of order (two at once, a regrade). An UPDATE's parameters may not take its
    # columns' names.
    cell = (
        (errors.c.classroom_id == bindparam("cell_classroom", type_=Integer))
        & (errors.c.user_id == bindparam("cell_user", type_=Integer))
        & (errors.c.exercise_id == bindparam("cell_exercise", type_=String))
    )
    newest = select(func.max(errors.c.submission_id)).where(cell).scalar_subquery()
    is_newest = errors.c.submission_id == newest
    mark = update(errors).where(cell, errors.c.latest | is_newest).values(latest=is_newest)
    return stored, forget, insert(errors), mark


_STORED, _FORGET, _INSERT_ERROR, _MARK_LATEST = _attempt_statements()


def _store_attempt(session: Session, row: Submission) -> None:
    """What ``row`` failed on and every test's verdict, in one transaction on the store's
    thread (:attr:`Store.threaded`), replacing what an earlier grade of it stored."""
    assert row.id is not None
    record = exercise_record(session, row.classroom_id, row.exercise_id)
    tests = [t.get("name", "") for t in (record.definition.get("tests") or [])] if record else []
    test, line = first_failure(row.results)
    line = storable(line)  # results stored before the output was made storable may hold NUL
    submission = {"submission_id": row.id}
    if session.exec(_STORED, params=submission).one():  # a regrade replaces them
        for statement in _FORGET:
            session.exec(statement, params=submission)
    error = AttemptError(
        submission_id=row.id,
        classroom_id=row.classroom_id,
        user_id=row.user_id,
        exercise_id=row.exercise_id,
        test=(owning_test(test, tests) or test)[:200],
        line=line,
        signature=signature(line) if line else "",
        created_at=as_utc(row.submitted_at),
    )
    session.exec(_INSERT_ERROR, params=error.model_dump())
    cell = {"cell_classroom": row.classroom_id, "cell_user": row.user_id}
    session.exec(_MARK_LATEST, params={**cell, "cell_exercise": row.exercise_id})
    outcomes = [
        AttemptOutcome(
            submission_id=row.id,
            classroom_id=row.classroom_id,
            user_id=row.user_id,
            exercise_id=row.exercise_id,
            test=name[:200],
            passed=passed,
        )
        for name, passed in verdicts(row.results, tests).items()
    ]
    insert_all(session, outcomes)


def _cell(
    session: Session,
    *,
    room_id: int,
    classroom_id: int,
    user_id: int,
    exercise_id: str,
    now: datetime,
) -> tuple[Cell, str | None] | None:
    record = exercise_record(session, classroom_id, exercise_id)
    if record is None:
        return None
    return one_cell(
        session,
        room_id=room_id,
        classroom_id=classroom_id,
        user_id=user_id,
        exercise=record,
        now=now,
    )
