"""Writers of one process on a busy event loop: every one commits (server/sqlite_writes.py).

The event loop is kept busy 50 ms at a time, as a loaded server's is, so a session that took
SQLite's write lock keeps it for a few loop turns before its commit. SQLite's busy handler
is cut to 100 ms on these connections: before the writers were queued in the process, the
writers that waited on SQLite's lock longer than that failed with ``database is locked``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from server.sqlite_writes import WriteLock
from server.store import Store

WRITERS = 12


async def _busy_loop(done: asyncio.Event) -> None:
    while not done.is_set():
        busy_until = time.perf_counter() + 0.05
        while time.perf_counter() < busy_until:  # CPU work on the loop, as under load
            pass
        await asyncio.sleep(0)


async def _write(store: Store, n: int) -> None:
    async with store.session() as session:
        await session.exec(text("SELECT count(*) FROM marks"))  # type: ignore[call-overload]
        await session.exec(text("INSERT INTO marks (n) VALUES (:n)").bindparams(n=n))  # type: ignore[call-overload]
        await session.exec(text("UPDATE marks SET n = n WHERE n = :n").bindparams(n=n))  # type: ignore[call-overload]


async def test_concurrent_writers_on_a_busy_loop_all_commit(database_url: str) -> None:
    store = Store(database_url)

    def short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=100")
        cursor.close()

    if store.is_sqlite:
        event.listen(store.engine.sync_engine, "connect", short_busy_timeout)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE marks (n INTEGER NOT NULL)"))
        done = asyncio.Event()
        busy = asyncio.create_task(_busy_loop(done))
        try:
            results = await asyncio.gather(
                *(_write(store, n) for n in range(WRITERS)), return_exceptions=True
            )
        finally:
            done.set()
            await busy
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == []
        async with store.engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM marks"))).scalar_one()
        assert count == WRITERS
    finally:
        await store.close()


async def test_a_failed_write_gives_the_turn_to_the_next(database_url: str) -> None:
    store = Store(database_url)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE marks (n INTEGER NOT NULL UNIQUE)"))
        await _write(store, 1)
        with pytest.raises(IntegrityError):
            await _write(store, 1)  # the UNIQUE constraint fails it mid-transaction
        await asyncio.wait_for(_write(store, 2), 5)
        async with store.engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM marks"))).scalar_one()
        assert count == 2
    finally:
        await store.close()


async def test_a_returned_connection_is_reset_and_kept(tmp_path: Path) -> None:
    """The pool's reset listener has SQLAlchemy 2.0's signature: a legacy one made it warn at
    every checkin and, with warnings as errors, invalidate every connection it gave back."""
    store = Store(f"sqlite:///{tmp_path / 'classroom.db'}")
    connects = []
    event.listen(store.engine.sync_engine, "connect", lambda *args: connects.append(args))
    try:
        async with store.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE marks (n INTEGER NOT NULL)"))
        for n in range(3):
            await _write(store, n)
        async with store.engine.connect() as conn:  # wrote, never committed: rolled back
            await conn.execute(text("INSERT INTO marks (n) VALUES (9)"))
        await asyncio.wait_for(_write(store, 3), 5)  # the lock was given back
        async with store.engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM marks"))).scalar_one()
        assert count == 4
        assert len(connects) == 1
    finally:
        await store.close()


async def test_a_cancelled_wait_for_the_write_lock_stays_cancelled() -> None:
    # The holder gives the lock back and the waiting task is cancelled in the same turn of
    # the loop: the cancellation must win, and the lock must not stay with the cancelled task.
    lock = WriteLock()
    await lock.acquire()
    waiting = asyncio.create_task(lock.acquire())
    for _ in range(3):  # a few turns of the loop: the waiter gets to wait in the lock itself
        await asyncio.sleep(0)
    assert lock._lock._waiters
    lock.release()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not lock.held
