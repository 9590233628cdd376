"""The data directory and the SQLite files are the operator's alone.

A student program on the local backend once read the password hashes and a hidden test's
source from a world-readable ``classroom.db``. At start the data directory is made 0700 and
the database, its WAL and shared-memory files and the secret key 0600. The database file is
created 0600 before SQLite opens it: SQLite gives the ``-wal`` and ``-shm`` files it creates
later the database file's own permissions.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger("classroom.security")

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def protect_data(data_dir: Path, database_url: str) -> None:
    """chmod the data directory 0700 and the SQLite files 0600 (creating the database empty)."""
    _chmod(data_dir, 0o700, create_dir=True)
    _chmod(data_dir / "secret_key", 0o600)
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    database = Path(url.database)
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        log.warning("cannot create %s: %s", database, exc)
    for suffix in SQLITE_SUFFIXES:
        _chmod(Path(f"{database}{suffix}"), 0o600)


def _chmod(path: Path, mode: int, *, create_dir: bool = False) -> None:
    try:
        if create_dir:
            path.mkdir(parents=True, exist_ok=True)
        if path.exists():
            os.chmod(path, mode)
    except OSError as exc:
        # A volume owned by someone else: say so, the server still starts.
        log.warning("cannot restrict %s to %o: %s", path, mode, exc)
