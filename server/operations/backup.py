"""``python -m server backup PATH`` and ``restore PATH`` for the SQLite store.

Design note. A backup uses SQLite's online backup API (``sqlite3.Connection.backup``): it
copies pages from a consistent read snapshot while servers keep writing (WAL mode lets them),
so it needs no downtime and never copies a half-written transaction. It writes to
``PATH.part`` and renames, so PATH is either absent or a complete database.

A restore copies a backup over the live database with the same API, after checking that the
file is a sound SQLite database of this application (``PRAGMA integrity_check``, an
``alembic_version`` row), then migrates it to the current schema. Servers must be stopped
first: a running process keeps documents in memory and would write them back over the
restored state. PostgreSQL has its own tools (``pg_dump``/``pg_restore``); these commands
refuse a PostgreSQL URL and say so.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from server.operations.exceptions import OperationError

log = logging.getLogger("classroom.operations")

PAGES_PER_STEP = 1024  # a step holds the source's read lock briefly; writers go on between steps


def sqlite_path(database_url: str) -> Path:
    """The file of a ``sqlite:///`` URL; an :class:`OperationError` for anything else."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        raise OperationError(
            "backup and restore handle SQLite; for PostgreSQL use pg_dump and pg_restore"
        )
    if backend != "sqlite" or not url.database or url.database == ":memory:":
        raise OperationError(f"not a SQLite database file: {url.render_as_string()}")
    return Path(url.database)


def backup(database_url: str, target: Path, *, overwrite: bool = False) -> int:
    """Copy the live database to ``target``; returns its size in bytes."""
    source_path = sqlite_path(database_url)
    if not source_path.is_file():
        raise OperationError(f"no database at {source_path}")
    if target.exists() and not overwrite:
        raise OperationError(f"{target} exists; pass --force to replace it")
    if not target.parent.is_dir():
        raise OperationError(f"no directory {target.parent}")
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(part)
        try:
            source.backup(dest, pages=PAGES_PER_STEP)
            # A single file with no WAL beside it: the backup is one self-contained file.
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
    finally:
        source.close()
    with open(part, "rb") as fh:
        os.fsync(fh.fileno())
    part.replace(target)
    size = target.stat().st_size
    log.info("backup of %s written to %s (%d bytes)", source_path, target, size)
    return size


def check_backup(path: Path) -> str:
    """Raise :class:`OperationError` unless ``path`` is a sound database of this app; returns
    its schema revision."""
    if not path.is_file():
        raise OperationError(f"no backup at {path}")
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise OperationError(f"{path} is not a SQLite database")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()
        if verdict is None or verdict[0] != "ok":
            raise OperationError(f"{path} is damaged: {verdict[0] if verdict else 'no answer'}")
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            row = None
        if row is None:
            raise OperationError(
                f"{path} is not an OpenCode Classroom database (no schema version)"
            )
        return str(row[0])
    except sqlite3.DatabaseError as exc:
        raise OperationError(f"{path} cannot be read: {exc}") from None
    finally:
        conn.close()


def restore(database_url: str, source: Path) -> str:
    """Replace the database's content by the backup at ``source``; returns the backup's schema
    revision. The caller migrates afterwards."""
    revision = check_backup(source)
    target_path = sqlite_path(database_url)
    if target_path.resolve() == source.resolve():
        raise OperationError("the backup is the database itself")
    target_path.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target_path)
        try:
            _accept_page_size(dest, src)
            # Through the backup API, not a file copy: a WAL and its index beside the live
            # file stay consistent with what is written.
            src.backup(dest, pages=PAGES_PER_STEP)
            dest.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            dest.close()
    finally:
        src.close()
    log.info("restored %s from %s (schema %s)", target_path, source, revision)
    return revision


def _accept_page_size(dest: sqlite3.Connection, src: sqlite3.Connection) -> None:
    """Let ``dest`` take ``src``'s pages when their page sizes differ.

    The backup API refuses to copy into a WAL database of another page size ("attempt to write
    a readonly database"); databases made before ``SQLITE_PAGE_SIZE`` (server/store.py) have
    4,096-byte pages, newer ones 1,024. Out of WAL mode the copy takes the backup's page size;
    the next server's connections turn WAL mode back on. That needs the file to itself: the
    servers must be stopped for a restore, and a file still open elsewhere is refused.
    """
    size = dest.execute("PRAGMA page_size").fetchone()[0]
    backup_size = src.execute("PRAGMA page_size").fetchone()[0]
    if size == backup_size:
        return
    if str(dest.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        return
    try:
        mode = dest.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        raise OperationError(f"the database is in use ({exc}): stop the servers") from None
    if str(mode).lower() == "wal":
        raise OperationError("the database is in use (it stayed in WAL mode): stop the servers")
    log.info("pages of %d bytes, the backup's %d: the restore takes its", size, backup_size)
