"""The database: one async engine, sessions, and schema migration to head.

SQLite (the default) runs in WAL mode with ``synchronous=NORMAL``: a committed transaction
survives a crash of the process (``kill -9``), which is what the document store needs.
PostgreSQL is reached through psycopg 3. Users give plain URLs (``sqlite:///x.db``,
``postgresql://…``); the async and sync drivers are chosen here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger("classroom.store")

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def install_sqlite_pragmas(engine: Any) -> None:
    """WAL, foreign keys and a busy timeout on every new SQLite connection of ``engine``."""
    event.listen(engine, "connect", _sqlite_pragmas)


class Store:
    """The process's database. ``async with store.session() as s`` commits on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        target = async_url(url)
        self.is_sqlite = target.get_backend_name() == "sqlite"
        if self.is_sqlite and target.database:
            Path(target.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if not self.is_sqlite:
            kwargs = {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}
        self.engine: AsyncEngine = create_async_engine(target, **kwargs)
        if self.is_sqlite:
            install_sqlite_pragmas(self.engine.sync_engine)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

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
