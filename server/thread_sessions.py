"""Synchronous sessions on a thread of the store's own, for work of many statements.

Design note. Through the async driver every statement is a trip to the driver's thread and
back through the event loop (server/sqlite_cursor.py), and SQLAlchemy's async session adds a
greenlet switch to each. A graded submission's gamification (server/gamification/game.py) is
about ten statements: when a class submits at once, thirty of those chains interleave on a
loop that is also grading and fanning out, and on SQLite each write transaction holds the
process's write lock (server/sqlite_writes.py) across several turns of that busy loop, so
every other writer, a document update included, queues behind it.

:meth:`ThreadSessions.read` runs ``work(session)`` start to end on one thread with a
synchronous session: one hop however many statements. :meth:`ThreadSessions.write` runs it in
one transaction that commits there, in the process's turn to write: on SQLite it takes the
write lock on the loop first and gives it back only once the thread is done, even when the
caller is cancelled meanwhile, so the lock never covers less than the transaction. One thread
and one connection: the work is serialized, as SQLite's one writer serializes it anyway.

An in-memory SQLite database is one connection's own, which no second engine can reach: there
``work`` runs through an async session (``AsyncSession.run_sync``), the same statements, each
a trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from server.sqlite_writes import WriteLock

_T = TypeVar("_T")


class ThreadSessions:
    """Sessions on one thread of their own, opened on first use and closed by :meth:`close`.

    ``connect`` makes the synchronous engine (None: no engine can reach the database, so
    ``fallback`` sessions are used); ``write_lock`` is the process's SQLite write lock."""

    def __init__(
        self,
        connect: Callable[[], Engine] | None,
        write_lock: WriteLock | None,
        fallback: Callable[[], Any],
    ) -> None:
        self._connect = connect
        self._write_lock = write_lock
        self._fallback = fallback
        self._engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def read(self, work: Callable[[Session], _T]) -> _T:
        """``work(session)`` on the thread; whatever it reads, nothing is committed."""
        if self._connect is None:
            return await self._through_fallback(work)
        return await self._submit(self._read, work)

    async def write(self, work: Callable[[Session], _T]) -> _T:
        """``work(session)`` in one transaction on the thread, committed when it returns,
        rolled back when it raises."""
        if self._connect is None:
            return await self._through_fallback(work)
        lock = self._write_lock
        if lock is None:
            return await self._submit(self._write, work)
        await lock.acquire()
        try:
            done = asyncio.wrap_future(self._executor().submit(self._write, work))
        except BaseException:
            lock.release()
            raise
        done.add_done_callback(lambda ended: _release(lock, ended))
        return await asyncio.shield(done)

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.get_running_loop().run_in_executor(thread, engine.dispose)
        thread.shutdown()  # idle by now: the dispose above was its last work

    async def _through_fallback(self, work: Callable[[Session], _T]) -> _T:
        async with self._fallback() as session:
            assert isinstance(session, AsyncSession)
            # sqlmodel's async session hands ``work`` its synchronous sqlmodel Session.
            return await session.run_sync(cast(Callable[[Any], _T], work))

    def _executor(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="store-sessions")
        return self._thread

    async def _submit(self, run: Callable[[Any], _T], work: Any) -> _T:
        done: Future[_T] = self._executor().submit(run, work)
        return await asyncio.wrap_future(done)

    def _session(self) -> Session:
        if self._engine is None:
            assert self._connect is not None
            self._engine = self._connect()
        return Session(self._engine, expire_on_commit=False)

    def _read(self, work: Callable[[Session], _T]) -> _T:
        with self._session() as session:
            return work(session)

    def _write(self, work: Callable[[Session], _T]) -> _T:
        with self._session() as session, session.begin():
            return work(session)


def _release(lock: WriteLock, ended: asyncio.Future[Any]) -> None:
    """On the loop, once the thread is done: the lock back, and the outcome read, which a
    cancelled caller never reads."""
    lock.release()
    if not ended.cancelled():
        ended.exception()
