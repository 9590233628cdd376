"""The PostgreSQL writer's one-statement commits (server/documents/postgres_inserts.py): rows
read back exactly as SQLAlchemy's Core INSERT stores them, a batch longer than one statement
is stored whole and in order (or not at all), and rows that can never be stored are refused
without a retry. A dropped connection: test_writer_reconnect.py. A process on SQLite never
loads psycopg."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from server.documents import postgres_inserts
from server.documents.postgres_inserts import AutocommitInserter
from server.documents.store import DocStore
from server.models import DocUpdate
from server.store import Store
from tests.server.documents.test_store import Typist, a_room, text_of

DATABASES = ("postgres",)
TABLE = DocUpdate.__table__  # type: ignore[attr-defined]
COLUMNS = ("room_id", "doc", "data", "created_at", "author_id", "inserted", "inserted_key")


async def stored(store: Store, room: int) -> list[tuple[object, ...]]:
    async with store.session() as session:
        rows = await session.exec(
            select(
                DocUpdate.doc, DocUpdate.data, DocUpdate.created_at, DocUpdate.author_id,
                DocUpdate.inserted, DocUpdate.inserted_key,
            ).where(DocUpdate.room_id == room).order_by(col(DocUpdate.id))
        )  # fmt: skip
        return [tuple(row) for row in rows.all()]


async def test_rows_read_back_as_the_core_insert_stores_them(store: Store) -> None:
    room = await a_room(store)
    values = [
        (room, "students/7/main.py", b"\x00\x01\xff" * 40, datetime(2026, 12, 4, 10, 29, 54,
         263909, tzinfo=UTC), 7, 12, 2**40 + 3),
        (room, "demo", b"", datetime(2026, 3, 4, 23, 59, 59, 999999,
         tzinfo=timezone(timedelta(hours=-5))), None, 0, None),
        (room, "é/ü.py", bytes(range(256)), datetime(987, 6, 5, 4, 3, 2, 100000, tzinfo=UTC),
         1, 1, -1),
    ]  # fmt: skip
    engine = store.one_connection_engine(ping=False)
    try:
        with engine.begin() as conn:  # what the writer used to do
            conn.execute(insert(TABLE), [dict(zip(COLUMNS, v, strict=True)) for v in values])
        inserter = AutocommitInserter(engine, TABLE, COLUMNS)
        inserter.insert(values)
        inserter.insert(values[:1])
        inserter.close()
    finally:
        engine.dispose()
    rows = await stored(store, room)
    assert rows[3:6] == rows[:3] and rows[6] == rows[0]
    assert rows[0][1] == values[0][2] and rows[0][2] == values[0][3]


async def test_a_batch_longer_than_one_statement_is_stored_whole_and_in_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_inserts, "ROWS_PER_STATEMENT", 7)
    room = await a_room(store)
    docs = DocStore(store, compact_after=10_000)
    await docs.start()
    try:
        typist = Typist()
        updates = [typist.type(chr(ord("a") + i % 26)) for i in range(30)]
        await docs.append(room, "demo", updates, author=3, inserted=30)
        loaded = await docs.load(room, "demo")
    finally:
        await docs.close()
    rows = await stored(store, room)
    assert [r[1] for r in rows] == updates
    assert [(r[3], r[4]) for r in rows] == [(3, 30)] + [(3, 0)] * 29
    assert text_of(loaded) == str(typist.text)


async def test_a_failed_statement_in_a_long_batch_stores_none_of_it(store: Store) -> None:
    room = await a_room(store)
    engine = store.one_connection_engine(ping=False)
    inserter = AutocommitInserter(engine, TABLE, COLUMNS)
    now = datetime.now(UTC)
    good = [(room, "demo", b"x", now, None, 0, None)] * (postgres_inserts.ROWS_PER_STATEMENT + 5)
    try:
        with pytest.raises(IntegrityError) as refused:
            inserter.insert([*good, (room + 10_000, "demo", b"y", now, None, 0, None)])
        assert isinstance(refused.value.orig, psycopg.errors.ForeignKeyViolation)
        assert await stored(store, room) == []
        inserter.insert(good[:2])  # the same connection goes on
        assert len(await stored(store, room)) == 2
    finally:
        inserter.close()
        engine.dispose()


async def test_updates_of_a_deleted_room_are_refused_once_not_retried(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    docs = DocStore(store, compact_after=10_000)
    await docs.start()
    try:
        with caplog.at_level(logging.WARNING, logger="classroom.docs"):
            await docs.append(10_000_000, "demo", [Typist().type("a")])
            room = await a_room(store)
            await docs.append(room, "demo", [Typist().type("b")])
    finally:
        await docs.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("failed for good" in m for m in messages), messages
    assert not any("retrying" in m for m in messages), messages
    assert len(await stored(store, room)) == 1


def test_a_process_on_sqlite_does_not_load_psycopg(tmp_path: Path) -> None:
    """psycopg and libpq add about 9 MB of RSS (1,000 clients' memory target, issue 17)."""
    script = (
        "import asyncio, sys\n"
        "import server.app, server.documents.store as s\n"
        "from server.store import Store, migrate\n"
        f"url = 'sqlite:///{tmp_path}/db.sqlite'\n"
        "migrate(url)\n"
        "async def main():\n"
        "    store = Store(url)\n"
        "    docs = s.DocStore(store)\n"
        "    await docs.start()\n"
        "    await docs.close()\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('psycopg')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]", done.stdout
