"""The database: one async engine, sessions, and schema migration to head.

SQLite (the default) runs in WAL mode with ``synchronous=NORMAL``: a committed transaction
survives a crash of the process (``kill -9``), which is what the document store needs. The
process takes the WAL's checkpoints itself, never inside a commit
(server/sqlite_checkpoints.py).
PostgreSQL is reached through psycopg 3. Users give plain URLs (``sqlite:///x.db``,
``postgresql://…``); the async and sync drivers are chosen here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from server.sqlite_checkpoints import Checkpoints
from server.sqlite_writes import DRIVER, WriteLock, serialize_writes
from server.thread_sessions import ThreadSessions

log = logging.getLogger("classroom.store")

_ASYNC_DRIVERS = {"sqlite": DRIVER, "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _with_driver(url: str, drivers: dict[str, str]) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed.set(drivername=drivers[backend])


def async_url(url: str) -> URL:
    return _with_driver(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> URL:
    return _with_driver(url, _SYNC_DRIVERS)


BUSY_TIMEOUT_MS = 10_000
# Bytes a WAL is cut back to when SQLite starts it over (server/sqlite_checkpoints.py).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
# A SQLite connection is a thread of aiosqlite's. Sessions hold one only for their statements
# (a read-only session no longer makes two extra trips at its end: server/sqlite_writes.py),
# so 15 serve a class; a request that finds none free waits up to 30 s. A 10 + 30 pool was
# tried under the classroom simulation and saw transient "database disk image is malformed"
# and "no such table" errors from freshly opened overflow connections (never at 5 + 10):
# keep it small until that is understood.
SQLITE_POOL = {"pool_size": 5, "max_overflow": 10, "pool_timeout": 30}
# Bytes per page of a SQLite database this process creates (SQLite's default is 4,096). Every
# typed character is a commit of one small row that writes three whole pages to the WAL (the
# table's last leaf, its index's and ``sqlite_sequence``'s), each copied and checksummed: with
# 1,024-byte pages a commit writes 3.7 KB to the WAL instead of 12.9 KB (so checkpoints copy
# and sync a quarter as much) and takes about a fifth less time (bench/README.md, the section
# "smaller pages"). It takes effect only in a database that has no page yet; one made with
# another size keeps it and works as before (SQLite changes a WAL database's page size only by
# leaving WAL mode and a VACUUM; a restore takes the backup's, server/operations/backup.py).
SQLITE_PAGE_SIZE = 1024


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Before WAL mode: switching to it writes the first page, which fixes the size.
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Only other processes wait here: this one queues its writers (server/sqlite_writes.py).
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    # No checkpoint inside a commit, under the process's write lock: the store takes them
    # itself (server/sqlite_checkpoints.py).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def install_sqlite_pragmas(engine: Any) -> None:
    """WAL, foreign keys, a busy timeout and no automatic checkpoint on every new SQLite
    connection of ``engine``."""
    event.listen(engine, "connect", _sqlite_pragmas)


class Store:
    """The process's database. ``async with store.session() as s`` commits on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        target = async_url(url)
        self.is_sqlite = target.get_backend_name() == "sqlite"
        in_memory = self.is_sqlite and target.database in (None, "", ":memory:")
        if self.is_sqlite and target.database:
            Path(target.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if self.is_sqlite and not in_memory:
            kwargs = dict(SQLITE_POOL)
        elif not self.is_sqlite:
            kwargs = {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}
        self.engine: AsyncEngine = create_async_engine(target, **kwargs)
        # SQLite's one writer at a time, queued in this process; None on PostgreSQL.
        self.write_lock: WriteLock | None = None
        # A SQLite file's WAL checkpoints, after so many commits of this process; else None.
        self.checkpoints: Checkpoints | None = None
        if self.is_sqlite:
            install_sqlite_pragmas(self.engine.sync_engine)
            if not in_memory and target.database:
                self.checkpoints = Checkpoints(target.database, BUSY_TIMEOUT_MS)
            self.write_lock = WriteLock(
                after_release=self.checkpoints.committed if self.checkpoints else None
            )
            serialize_writes(self.engine.sync_engine, self.write_lock)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        # Work of many statements, one hop to a thread of its own (server/thread_sessions.py).
        self.threaded = ThreadSessions(
            None if in_memory else lambda: self.one_connection_engine(ping=not self.is_sqlite),
            self.write_lock,
            self.session,
        )

    def one_connection_engine(self, *, ping: bool) -> Engine:
        """A synchronous engine of one connection, for a thread of its own (the document
        writer's, the store's sessions'); ``ping``: check the connection before each use
        (PostgreSQL; a round trip each time)."""
        engine = create_engine(sync_url(self.url), pool_size=1, max_overflow=0, pool_pre_ping=ping)
        if self.is_sqlite:
            install_sqlite_pragmas(engine)
        return engine

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        """Raise if the database cannot answer ``SELECT 1``."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.threaded.close()
        if self.checkpoints is not None:
            await self.checkpoints.close()
        await self.engine.dispose()


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision`` with Alembic (blocking; call in a thread)."""
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent / "migrations"
    config = Config()
    config.set_main_option("script_location", str(root))
    config.attributes["database_url"] = url
    command.upgrade(config, revision)
    log.info("database schema at %s", revision)


def insert_all(session: Session, rows: Sequence[SQLModel]) -> None:
    """Insert ``rows``, all of one table, inside ``session``'s transaction (pending objects
    are flushed first), on the store's session thread (:attr:`Store.threaded`): one
    ``INSERT`` run for every row in one call to the driver (``executemany``). Their ids are
    not read back: the ORM's flush would send one statement per row to read each id. Not
    ``INSERT … VALUES (…), (…)``: SQLAlchemy compiles such a statement anew on every call (its
    values are part of it), which cost more than the insert itself."""
    if not rows:
        return
    table = type(rows[0]).__table__  # type: ignore[attr-defined]
    session.exec(insert(table), params=[row.model_dump(exclude={"id"}) for row in rows])
