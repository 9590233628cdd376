"""Sessions on the store's own thread (server/thread_sessions.py), on SQLite and PostgreSQL:
a write commits or leaves nothing, holds the process's write lock for as long as its
transaction runs, even when its caller is cancelled, and reads see what was committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from server.store import Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = Store(database_url)
    async with store.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE marks (n INTEGER PRIMARY KEY)"))
    yield store
    await store.close()


def _insert(n: int, session: Session) -> str:
    session.execute(text("INSERT INTO marks (n) VALUES (:n)").bindparams(n=n))
    return threading.current_thread().name


def _marks(session: Session) -> list[int]:
    return list(session.execute(text("SELECT n FROM marks ORDER BY n")).scalars())


async def _marks_seen_by_the_loop(store: Store) -> list[int]:
    async with store.session() as session:
        rows = await session.exec(text("SELECT n FROM marks ORDER BY n"))  # type: ignore[call-overload]
        return [n for (n,) in rows.all()]


async def test_a_write_commits_on_the_thread_and_a_failed_one_leaves_nothing(store: Store) -> None:
    thread = await store.threaded.write(lambda s: _insert(1, s))
    assert thread.startswith("store-sessions")
    assert thread != threading.current_thread().name

    def two_then_a_duplicate(session: Session) -> None:
        _insert(2, session)
        _insert(1, session)

    with pytest.raises(IntegrityError):
        await store.threaded.write(two_then_a_duplicate)
    assert await store.threaded.read(_marks) == [1]
    assert await _marks_seen_by_the_loop(store) == [1]
    # The lock is free again and the thread's connection usable after the failure.
    assert store.write_lock is None or not store.write_lock.held
    await store.threaded.write(lambda s: _insert(3, s))
    assert await _marks_seen_by_the_loop(store) == [1, 3]


async def test_a_cancelled_caller_keeps_the_write_lock_until_its_transaction_ends(
    store: Store,
) -> None:
    """On SQLite the lock must outlast the caller; on both, the work handed over commits."""
    lock = store.write_lock
    inside, release = threading.Event(), threading.Event()

    def slow(session: Session) -> None:
        _insert(7, session)
        inside.set()
        assert release.wait(30)

    writer = asyncio.create_task(store.threaded.write(slow))
    assert await asyncio.to_thread(inside.wait, 30)
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer
    if lock is None:  # PostgreSQL: no process lock, its own row locks
        release.set()
        await store.threaded.read(_marks)  # queued behind the transaction on the one thread
    else:
        # The transaction is still running on the thread: the lock must still cover it.
        assert lock.held
        waiting = asyncio.create_task(lock.acquire())
        await asyncio.sleep(0)
        assert not waiting.done()
        release.set()
        await asyncio.wait_for(waiting, 30)
        lock.release()
    # The cancelled caller's transaction still committed: its work had been handed over.
    assert await _marks_seen_by_the_loop(store) == [7]


async def test_an_in_memory_database_runs_the_work_through_its_async_session() -> None:
    store = Store("sqlite://")
    try:
        async with store.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE marks (n INTEGER PRIMARY KEY)"))
        thread = await store.threaded.write(lambda s: _insert(5, s))
        # No second engine could reach this database: the work ran on the loop's thread.
        assert thread == threading.current_thread().name
        assert await store.threaded.read(_marks) == [5]
        assert await _marks_seen_by_the_loop(store) == [5]
    finally:
        await store.close()


async def test_close_ends_the_thread_and_a_later_use_opens_it_again(store: Store) -> None:
    await store.threaded.write(lambda s: _insert(1, s))
    await store.threaded.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("store-sessions")]
    assert await store.threaded.read(_marks) == [1]
