"""A run's row follows its states in one statement each, on SQLite and PostgreSQL, and a
finished record is never moved back."""

from __future__ import annotations

from pathlib import Path

from server.metrics import Metrics
from server.models import Classroom, Room, User
from server.models.runs import Run
from server.runs.records import RunRecords
from server.store import Store
from tests.conftest import make_settings


async def no_depth() -> int:
    return 0


async def test_states_move_forward_only(store: Store, tmp_path: Path, database_url: str) -> None:
    async with store.session() as s:
        user = User(name="Ada")
        s.add(user)
        await s.flush()
        assert user.id is not None
        classroom = Classroom(title="c", join_code="ZXCVBN", owner_id=user.id)
        s.add(classroom)
        await s.flush()
        assert classroom.id is not None
        room = Room(classroom_id=classroom.id, title="lesson")
        s.add(room)
        await s.flush()
        assert room.id is not None
        s.add(Run(id="r1", room_id=room.id, user_id=user.id, language="python"))
    records = RunRecords(make_settings(tmp_path, database_url), store, Metrics(), no_depth)

    async def state() -> tuple[str, str | None, str]:
        async with store.session() as s:
            row = await s.get(Run, "r1")
            assert row is not None
            return row.state, row.status, row.stdout

    await records._update("r1", state="running")
    assert await state() == ("running", None, "")
    await records._update("r1", state="finished", status="ok", stdout="hi\n")
    assert await state() == ("finished", "ok", "hi\n")
    # A late "running" (two processes, out of order) leaves the finished record as it is.
    await records._update("r1", state="running")
    assert await state() == ("finished", "ok", "hi\n")
    await records._update("gone", state="running")  # a row that is not there: nothing
