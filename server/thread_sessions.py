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
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from server.engine_thread import EngineThread
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
        self._thread = None if connect is None else EngineThread(connect, "store-sessions")
        self._write_lock = write_lock
        self._fallback = fallback

    async def read(self, work: Callable[[Session], _T]) -> _T:
        """``work(session)`` on the thread; whatever it reads, nothing is committed."""
        if self._thread is None:
            return await self._through_fallback(work)
        return await self._thread.run(partial(_read, work))

    async def write(self, work: Callable[[Session], _T]) -> _T:
        """``work(session)`` in one transaction on the thread, committed when it returns,
        rolled back when it raises."""
        if self._thread is None:
            return await self._through_fallback(work)
        lock = self._write_lock
        if lock is None:
            return await self._thread.run(partial(_write, work))
        await lock.acquire()
        try:
            done = asyncio.wrap_future(self._thread.submit(partial(_write, work)))
        except BaseException:
            lock.release()
            raise
        done.add_done_callback(lambda ended: _release(lock, ended))
        return await asyncio.shield(done)

    async def close(self) -> None:
        if self._thread is not None:
            await self._thread.close()

    async def _through_fallback(self, work: Callable[[Session], _T]) -> _T:
        async with self._fallback() as session:
            assert isinstance(session, AsyncSession)
            # sqlmodel's async session hands ``work`` its synchronous sqlmodel Session.
            return await session.run_sync(cast(Callable[[Any], _T], work))


def _read(work: Callable[[Session], _T], engine: Engine) -> _T:
    with Session(engine, expire_on_commit=False) as session:
        return work(session)


def _write(work: Callable[[Session], _T], engine: Engine) -> _T:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return work(session)


def _release(lock: WriteLock, ended: asyncio.Future[Any]) -> None:
    """On the loop, once the thread is done: the lock back, and the outcome read, which a
    cancelled caller never reads."""
    lock.release()
    if not ended.cancelled():
        ended.exception()
