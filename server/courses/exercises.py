"""A classroom's exercise by its id, as grading, the cockpit and the integrity reports read it:
one statement built once (building it cost more than running it), read on the store's thread
(:attr:`server.store.Store.threaded`)."""

from __future__ import annotations

from sqlalchemy import Integer, String, bindparam
from sqlmodel import Session, col, select

from sandbox.grading import Exercise
from sandbox.grading.schema import exercise_from_dict
from server.exceptions import NotFound
from server.models import ExerciseRecord
from server.store import Store

_EXERCISE = select(ExerciseRecord).where(
    col(ExerciseRecord.classroom_id) == bindparam("classroom_id", type_=Integer),
    col(ExerciseRecord.exercise_id) == bindparam("exercise_id", type_=String),
)


def exercise_record(session: Session, classroom_id: int, exercise_id: str) -> ExerciseRecord | None:
    """The exercise's stored row, or None: for work already on the store's thread."""
    params = {"classroom_id": classroom_id, "exercise_id": exercise_id}
    found: ExerciseRecord | None = session.exec(_EXERCISE, params=params).first()
    return found


async def find_exercise(
    store: Store, classroom_id: int, exercise_id: str
) -> tuple[ExerciseRecord, Exercise]:
    """The exercise's row and its definition, in one hop. Raises NotFound
    (``unknown_exercise``)."""
    record = await store.threaded.read(
        lambda session: exercise_record(session, classroom_id, exercise_id)
    )
    if record is None:
        raise NotFound(f"exercise {exercise_id!r} does not exist", code="unknown_exercise")
    return record, exercise_from_dict(record.definition)
