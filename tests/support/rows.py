"""Rows a store-level test starts from: users, a classroom and a room, committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.models import Classroom, Room, Submission, User
from server.store import Store


@dataclass(frozen=True)
class Seeded:
    classroom_id: int
    room_id: int
    user_ids: list[int]
    """The users' ids in the order given; the first owns the classroom."""


async def classroom_with_room(store: Store, *users: User, join_code: str = "ABCDEF") -> Seeded:
    """``users`` (at least one; the first owns the classroom), a classroom and one room."""
    async with store.session() as s:
        s.add_all(users)
        await s.flush()
        ids = [user.id for user in users if user.id is not None]
        assert len(ids) == len(users) >= 1
        classroom = Classroom(title="CS", join_code=join_code, owner_id=ids[0])
        s.add(classroom)
        await s.flush()
        assert classroom.id is not None
        room = Room(classroom_id=classroom.id, title="Lesson")
        s.add(room)
        await s.flush()
        assert room.id is not None
        return Seeded(classroom.id, room.id, ids)


async def stored_submission(
    store: Store,
    classroom_id: int,
    user_id: int,
    attempt: int,
    *,
    results: Any,
    submitted_at: datetime,
    **fields: Any,
) -> Submission:
    """A submission of exercise ``sum`` as the grader stores it (``status`` graded unless
    ``fields`` say otherwise; ``fields`` also sets score, max_score, passed...)."""
    async with store.session() as s:
        row = Submission(
            classroom_id=classroom_id,
            exercise_id="sum",
            user_id=user_id,
            attempt=attempt,
            files={"main.py": ""},
            results=results,
            submitted_at=submitted_at,
            **{"status": "graded", **fields},
        )
        s.add(row)
    return row
