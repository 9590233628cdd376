"""The process takes SQLite's WAL checkpoints itself (server/sqlite_checkpoints.py): no
commit of the ORM's starts one under the write lock, and a process that writes rows but no
documents still checkpoints."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import select

from server import sqlite_checkpoints
from server.models import User
from server.store import Store
from tests.server.documents.test_inline import typed_past_autocheckpoint
from tests.server.documents.test_store import text_of

DATABASES = ("sqlite",)


def rows_in(path: Path, table: str) -> int:
    """Rows of ``table`` in the database file alone, without its WAL."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def file_alone(store: Store, tmp_path: Path) -> Path:
    """A copy of the database file as it is on disk, without its WAL."""
    path = make_url(store.url).database
    assert path
    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    return copy


async def test_an_orm_commit_never_checkpoints_under_the_write_lock(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past 1,000 WAL frames SQLite's own checkpoint would copy and sync the whole WAL in
    the next commit of a connection that allows it, holding the process's write lock: 61 ms
    for 4,500 frames, measured. The ORM's commits leave it to the process's checkpoints."""
    room, docs = await typed_past_autocheckpoint(store, monkeypatch)
    try:
        async with store.session() as session:  # an ORM write, through the async engine
            session.add(User(name="Grace"))
        await store.threaded.write(lambda session: session.add(User(name="Linus")))
        assert rows_in(file_alone(store, tmp_path), "doc_updates") == 0
    finally:
        await docs.close()
    assert text_of(await docs.load(room, "demo")) == "x" * 400


async def test_a_process_that_writes_only_rows_still_checkpoints(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_checkpoints, "CHECKPOINT_EVERY", 10)
    checkpoints = store.checkpoints
    assert checkpoints is not None
    checkpoints.since = 0
    for i in range(9):
        async with store.session() as session:
            session.add(User(name=f"student {i}"))
    async with store.session() as session:  # reads alone are no commits
        assert len((await session.exec(select(User))).all()) == 9
    assert checkpoints.running is None
    await store.threaded.write(lambda session: session.add(User(name="the tenth")))
    assert checkpoints.running is not None
    await asyncio.wait_for(checkpoints.wait(), 10)
    assert rows_in(file_alone(store, tmp_path), "users") == 10
    assert checkpoints.since == 0


@pytest.mark.parametrize("waiting", ["after_last_pass", "wait"])
def test_a_finished_pass_whose_callbacks_are_pending_is_waited_for_not_spun_on(
    waiting: str,
) -> None:
    """A pass that has just finished, its done-callback scheduled but not yet run: the wait
    must yield to the loop so that the callback can run. Since Python 3.12
    ``asyncio.gather`` of a done future returns a done future, and awaiting it there does
    not yield: the old wait spun on the loop's thread for good (a server stalled at 83 % of a
    core in the fan-out benchmark on 3.13). Run on a thread of its own, so that a spin fails
    the test instead of hanging it."""
    outcome: dict[str, object] = {}

    async def scenario() -> None:
        checkpoints = sqlite_checkpoints.Checkpoints(":memory:", 0)
        running: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        running.add_done_callback(checkpoints._last_done)
        checkpoints.running, checkpoints.last_pass = running, True
        running.set_result(None)  # schedules _last_done; it has not run yet
        assert checkpoints.running is running and checkpoints.last_pass
        await asyncio.wait_for(getattr(checkpoints, waiting)(), 5)
        outcome["state"] = (checkpoints.running, checkpoints.last_pass)

    thread = threading.Thread(target=asyncio.run, args=(scenario(),), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), f"Checkpoints.{waiting} spun instead of yielding to the loop"
    assert outcome["state"] == (None, False)
