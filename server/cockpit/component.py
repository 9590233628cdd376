"""The cockpit of one process: what each graded attempt failed on, the staff's live grid
(``progress.update``), and its hints and feedback parts.

Design note. The grader tells the cockpit of every stored grade (a regrade too): before
``grade.result`` goes out, :meth:`Cockpit.record` stores the attempt's first failed test and
error line, normalised (``attempt_errors``), and every test's verdict (``attempt_outcomes``),
replacing what an earlier grade of the same submission wrote, so a student's next look at
their hints counts it; right after, :meth:`Cockpit.progress_update` sends the staff the
student's new cell. A failure here is logged and never reaches the grade, already stored.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_
from sqlmodel import col, delete, select, update

from rooms.cockpit.errors import first_failure, owning_test, signature, verdicts
from rooms.events import STAFF_AUDIENCE
from server.cockpit.feedback import Feedback
from server.cockpit.grid import one_cell
from server.cockpit.help import Hints
from server.events.hub import RoomHub
from server.gamification.game import Gamification
from server.models import AttemptError, AttemptOutcome, ExerciseRecord, Submission
from server.models.clock import as_utc, utcnow
from server.store import Store, insert_all

log = logging.getLogger("classroom.cockpit")


class Cockpit:
    def __init__(self, store: Store, hub: RoomHub, gamification: Gamification) -> None:
        self.store = store
        self.hub = hub
        self.hints = Hints(store, hub, gamification)
        self.feedback = Feedback(store, hub)

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
        assert row.id is not None
        if row.status != "graded":
            return
        async with self.store.session() as session:
            record = await _exercise(session, row.classroom_id, row.exercise_id)
            tests = (
                [t.get("name", "") for t in (record.definition.get("tests") or [])]
                if record
                else []
            )
            test, line = first_failure(row.results)
            # A regrade replaces what an earlier grade stored. Asked before the first write,
            # so a first grade (nearly all of them) holds SQLite's write lock for its
            # inserts only (server/sqlite_writes.py); one submission is graded at a time.
            stored = (
                await session.exec(
                    select(
                        or_(
                            exists().where(col(AttemptError.submission_id) == row.id),
                            exists().where(col(AttemptOutcome.submission_id) == row.id),
                        )
                    )
                )
            ).one()
            if stored:
                await session.exec(
                    delete(AttemptOutcome).where(col(AttemptOutcome.submission_id) == row.id)
                )
                await session.exec(
                    delete(AttemptError).where(col(AttemptError.submission_id) == row.id)
                )
            session.add(
                AttemptError(
                    submission_id=row.id,
                    classroom_id=row.classroom_id,
                    user_id=row.user_id,
                    exercise_id=row.exercise_id,
                    test=(owning_test(test, tests) or test)[:200],
                    line=line,
                    signature=signature(line) if line else "",
                    created_at=as_utc(row.submitted_at),
                )
            )
            await _mark_latest(session, row)
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
            await insert_all(session, outcomes)

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
        async with self.store.session() as session:
            record = await _exercise(session, classroom_id, exercise_id)
            if record is None:
                return None
            cell, name = await one_cell(
                session,
                room_id=room_id,
                classroom_id=classroom_id,
                user_id=user_id,
                exercise=record,
                now=now or utcnow(),
            )
        return {
            "type": "progress.update",
            "room_id": room_id,
            "student": {"id": user_id, "name": name if name is not None else f"#{user_id}"},
            "cell": cell.to_dict(),
        }


async def _mark_latest(session: Any, row: Submission) -> None:
    """Flag the newest attempt of the row's cell as ``latest`` (and only it): grades may be
    stored out of order (two at once, a regrade). One statement, inside the transaction
    that stored the row."""
    await session.flush()
    cell = (
        (col(AttemptError.classroom_id) == row.classroom_id)
        & (col(AttemptError.user_id) == row.user_id)
        & (col(AttemptError.exercise_id) == row.exercise_id)
    )
    newest = select(func.max(AttemptError.submission_id)).where(cell).scalar_subquery()
    is_newest = col(AttemptError.submission_id) == newest
    await session.exec(
        update(AttemptError)
        .where(cell, col(AttemptError.latest) | is_newest)
        .values(latest=is_newest)
    )


async def _exercise(session: Any, classroom_id: int, exercise_id: str) -> ExerciseRecord | None:
    found: ExerciseRecord | None = (
        await session.exec(
            select(ExerciseRecord).where(
                ExerciseRecord.classroom_id == classroom_id,
                ExerciseRecord.exercise_id == exercise_id,
            )
        )
    ).first()
    return found
