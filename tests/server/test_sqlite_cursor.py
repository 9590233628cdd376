"""SQLite statements through the app's store take one trip to aiosqlite's thread each
(server/sqlite_cursor.py), and return what SQLAlchemy's own cursor returned: rows, row
counts, generated ids, many-row inserts, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from server.store import Store


@pytest.fixture
async def marks(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'marks.db'}")
    async with store.engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE marks (id INTEGER PRIMARY KEY, n INTEGER NOT NULL UNIQUE)")
        )
    yield store
    await store.close()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of every function the store sends to a connection's thread, in order."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield sent


def run(statement: str, **params: Any) -> Any:
    return text(statement).bindparams(**params) if params else text(statement)


async def test_each_statement_is_one_trip_and_commit_one_more(
    marks: Store, trips: list[str]
) -> None:
    async with marks.session() as session:  # warm the pool: a first connect makes its own trips
        await session.exec(run("SELECT 1"))  # type: ignore[call-overload]
    trips.clear()
    async with marks.session() as session:
        rows = (await session.exec(run("SELECT n FROM marks"))).all()  # type: ignore[call-overload]
        assert rows == []
        assert trips == ["_run"]
        await session.exec(run("INSERT INTO marks (n) VALUES (:n)", n=1))  # type: ignore[call-overload]
        await session.exec(run("INSERT INTO marks (n) VALUES (:n)", n=2))  # type: ignore[call-overload]
        assert trips == ["_run"] * 3
    # the commit, and nothing to close: SQLAlchemy's cursor made 4 trips per query, 3 per write
    assert trips == ["_run"] * 3 + ["commit"]
    async with marks.session() as session:
        found = (await session.exec(run("SELECT n FROM marks ORDER BY n"))).all()  # type: ignore[call-overload]
    assert [tuple(r) for r in found] == [(1,), (2,)]
    # a read-only session commits nothing (server/sqlite_writes.py): one trip in all
    assert trips == ["_run"] * 3 + ["commit", "_run"]


async def test_counts_ids_many_rows_and_returning_come_back(marks: Store) -> None:
    async with marks.engine.begin() as conn:
        inserted = await conn.execute(run("INSERT INTO marks (n) VALUES (:n)", n=10))
        assert inserted.lastrowid == 1 and inserted.rowcount == 1
        many = await conn.execute(
            text("INSERT INTO marks (n) VALUES (:n)"), [{"n": 11}, {"n": 12}, {"n": 13}]
        )
        assert many.rowcount == 3
        updated = await conn.execute(run("UPDATE marks SET n = n + 100 WHERE n > :n", n=10))
        assert updated.rowcount == 3
        back = await conn.execute(run("INSERT INTO marks (n) VALUES (:n) RETURNING id, n", n=7))
        assert [tuple(r) for r in back.all()] == [(5, 7)]
        page = await conn.execute(run("SELECT n FROM marks ORDER BY n"))
        assert page.fetchone() == (7,)
        assert [tuple(r) for r in page.fetchmany(2)] == [(10,), (111,)]
        assert [tuple(r) for r in page.fetchall()] == [(112,), (113,)]


async def test_errors_are_sqlites_and_the_store_carries_on(marks: Store) -> None:
    async with marks.session() as session:
        await session.exec(run("INSERT INTO marks (n) VALUES (1)"))  # type: ignore[call-overload]
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed"):
        async with marks.session() as session:
            await session.exec(run("INSERT INTO marks (n) VALUES (2)"))  # type: ignore[call-overload]
            await session.exec(run("INSERT INTO marks (n) VALUES (1)"))  # type: ignore[call-overload]
    with pytest.raises(OperationalError, match="no such table"):
        async with marks.session() as session:
            await session.exec(run("SELECT * FROM nowhere"))  # type: ignore[call-overload]
    # The failed transaction was rolled back whole, and its write lock given back.
    assert marks.write_lock is not None and not marks.write_lock.held
    async with marks.session() as session:
        await session.exec(run("INSERT INTO marks (n) VALUES (3)"))  # type: ignore[call-overload]
        rows = (await session.exec(run("SELECT n FROM marks ORDER BY n"))).all()  # type: ignore[call-overload]
    assert [tuple(r) for r in rows] == [(1,), (3,)]
