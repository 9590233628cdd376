"""A new SQLite database gets ``SQLITE_PAGE_SIZE``-byte pages; one made with SQLite's default
4,096 before keeps them, and its updates are still committed on the loop's thread."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from server.documents.store import DocStore
from server.store import SQLITE_PAGE_SIZE, Store, migrate
from tests.server.documents.test_store import Typist, a_room, text_of

DATABASES = ("sqlite",)


def pages_and_mode(path: Path) -> tuple[int, str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return (
            conn.execute("PRAGMA page_size").fetchone()[0],
            conn.execute("PRAGMA journal_mode").fetchone()[0],
        )


def test_a_new_database_has_small_pages(tmp_path: Path) -> None:
    assert SQLITE_PAGE_SIZE < 4096
    migrate(f"sqlite:///{tmp_path / 'classroom.db'}")
    assert pages_and_mode(tmp_path / "classroom.db") == (SQLITE_PAGE_SIZE, "wal")


async def test_a_database_with_default_pages_keeps_them_and_commits_inline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "classroom.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")  # the first page is written: 4,096 for good
    url = f"sqlite:///{path}"
    migrate(url)
    store = Store(url)
    docs = DocStore(store)
    try:
        await docs.start()
        room = await a_room(store)
        typist = Typist()
        for c in "old":
            stored = docs.append(room, "demo", [typist.type(c)], author=1, inserted=1)
            assert stored.done()  # committed on this thread, as in a new database
        assert text_of(await docs.load(room, "demo")) == "old"
    finally:
        await docs.close()
        await store.close()
    assert pages_and_mode(path) == (4096, "wal")
