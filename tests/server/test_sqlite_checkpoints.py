"""The process takes SQLite's WAL checkpoints itself (server/sqlite_checkpoints.py): no
commit of the ORM's starts one under the write lock, and a process that writes rows but no
documents still checkpoints."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
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
