"""SQLite's single writer, queued in the process instead of polled in SQLite.

Design note. SQLite lets one transaction write at a time; the others wait in SQLite's busy
handler, which sleeps and polls (up to 100 ms between tries) until ``busy_timeout`` and then
fails with ``database is locked``. With many sessions of one process writing at once (a class
submitting while the document writer commits every few milliseconds), and each session
holding the lock across event-loop turns between its statements and its commit, a writer
could poll for longer than the timeout and fail, while it held a pooled connection that
readers were waiting for.

So every write transaction of a process takes :class:`WriteLock` first, an ``asyncio.Lock``
(first come, first served, no polling): a session takes it at its first ``INSERT``,
``UPDATE`` or ``DELETE`` (a hook runs in SQLAlchemy's greenlet, so it can await it) and gives it
back right *after* the database's commit or rollback (:class:`SerializedSQLiteDialect`), the
document writer around each of its batches. SQLite's busy handler then only arbitrates
against other processes (the CLI, a second server on the same file). Reads never wait for it:
WAL readers see the last commit. A transaction's reads before its first write run outside it
(pysqlite begins the transaction at the first write), so taking the lock there never
upgrades a stale read snapshot.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import await_only

from server.sqlite_cursor import OneTripDBAPI

DRIVER = "sqlite+classroom_aiosqlite"
WAIT_SECONDS = 30.0
_HELD = "classroom_write_lock"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteLock:
    """The process's turn to write to one SQLite database. ``after_release`` is called on
    the event loop's thread each time a write transaction ends (the store counts them for
    its checkpoints, server/sqlite_checkpoints.py)."""

    def __init__(
        self, wait_seconds: float = WAIT_SECONDS, after_release: Callable[[], None] | None = None
    ) -> None:
        self.wait_seconds = wait_seconds
        self.after_release = after_release
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 a wait_for whose lock came free in
        # the very turn its task was cancelled returned the lock and dropped the cancellation.
        # The task then went on holding it: at a server's shutdown the history pruner, so
        # cancelled at its first write, pruned on and slept for an hour, and the shutdown
        # waited for it (seen once in CI).
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._lock.acquire()
        except TimeoutError:
            raise OperationalError(
                "waiting for the SQLite write lock", None, TimeoutError("write lock wait")
            ) from None

    def release(self) -> None:
        self._lock.release()
        if self.after_release is not None:
            self.after_release()

    @property
    def held(self) -> bool:
        """Whether a write transaction of this process holds (or is taking) the lock."""
        return self._lock.locked()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        self.release()


def _release(connection: Any) -> None:
    """Give back the lock if ``connection`` (a pooled connection or its record) holds it."""
    try:
        info: dict[Any, Any] = connection.info
    except NotImplementedError:  # the bare connection SQLAlchemy probes on first connect
        return
    lock: WriteLock | None = info.pop(_HELD, None)
    if lock is not None:
        lock.release()


def _in_transaction(dbapi_connection: Any) -> bool:
    """Whether SQLite has a transaction open on this connection (pysqlite opens one at the
    first write; a session that only read has none)."""
    adapted = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
    inner = getattr(adapted, "_connection", None)  # the aiosqlite.Connection
    if inner is None or getattr(inner, "_connection", None) is None:
        return True  # unknown or closing: let the driver decide
    return bool(inner.in_transaction)


class SerializedSQLiteDialect(SQLiteDialect_aiosqlite):
    """aiosqlite, giving back the write lock once a commit or rollback is done.

    A commit or rollback with no transaction open is skipped: each one is a round trip to the
    connection's thread and back through the event loop, and a read-only session (most of
    them: access checks, token generations) made two such trips for nothing, at its end and
    when its connection went back to the pool, each as long as a turn of a busy loop."""

    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneTripDBAPI:
        """aiosqlite with one thread trip per statement (server/sqlite_cursor.py)."""
        return OneTripDBAPI(aiosqlite, sqlite3)

    def do_commit(self, dbapi_connection: Any) -> None:
        try:
            if _in_transaction(dbapi_connection):
                super().do_commit(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            _release(dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        try:
            if _in_transaction(dbapi_connection):
                super().do_rollback(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            _release(dbapi_connection)


registry.register("sqlite.classroom_aiosqlite", __name__, "SerializedSQLiteDialect")


def serialize_writes(engine: Any, lock: WriteLock) -> None:
    """Make every write transaction on ``engine`` (the sync side of an async engine whose
    driver is :data:`DRIVER`) hold ``lock`` from its first write to its end."""

    def before_cursor_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.info
        if _HELD in info or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        await_only(lock.acquire())
        info[_HELD] = lock

    # A connection closed, invalidated or returned without rollback gives the lock back. Each
    # listener has its event's exact signature: SQLAlchemy reads a listener's arguments to tell
    # the 2.0 form from a legacy one, and for a legacy "reset" it warns before every call.
    def dropped(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            _release(record)

    def reset(dbapi_connection: Any, record: Any, _reset_state: Any) -> None:
        dropped(dbapi_connection, record)

    def invalidated(dbapi_connection: Any, record: Any, _exception: Any) -> None:
        dropped(dbapi_connection, record)

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    event.listen(engine.pool, "reset", reset)
    event.listen(engine.pool, "invalidate", invalidated)
    event.listen(engine.pool, "soft_invalidate", invalidated)
    event.listen(engine.pool, "close", dropped)
    event.listen(engine.pool, "checkin", dropped)
