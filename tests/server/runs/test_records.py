"""A run's row follows its states in one statement each, on SQLite and PostgreSQL, and a
finished record is never moved back."""

from __future__ import annotations

from pathlib import Path

from server.metrics import Metrics
from server.models import User
from server.models.runs import Run
from server.runs.records import RunRecords
from server.store import Store
from tests.conftest import make_settings
from tests.support.rows import classroom_with_room


async def no_depth() -> int:
    return 0


async def test_states_move_forward_only(store: Store, tmp_path: Path, database_url: str) -> None:
    seeded = await classroom_with_room(store, User(name="Ada"))
    async with store.session() as s:
        s.add(Run(id="r1", room_id=seeded.room_id, user_id=seeded.user_ids[0], language="python"))
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
