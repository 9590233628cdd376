"""Whether a database's schema is already at our migrations' head, asked without Alembic.

Design note. Importing Alembic costs a process about 12 MiB that it keeps for its whole life.
`python -m server` migrates in a child process before it serves (server/cli.py), so the
process that serves finds the schema at head and never imports Alembic; an app started some
other way (tests, `server.main` under several workers) still migrates in its lifespan when the
schema is behind. ``SCHEMA_HEAD`` must name the newest migration: tests/server/test_schema.py
fails when a migration is added without updating it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from server.exceptions import ConfigurationError
from server.store import sync_url

SCHEMA_HEAD = "3e9dfb3519f5"


def schema_at_head(url: str) -> bool:
    """True when the database at ``url`` is at ``SCHEMA_HEAD`` (blocking; call in a thread)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
    except DBAPIError:
        return False  # no alembic_version table yet: a new database
    finally:
        engine.dispose()
    return [row[0] for row in rows] == [SCHEMA_HEAD]


def migrate_in_child(url: str) -> None:
    """Migrate ``url`` to head in a child process (see the design note). Raises on failure."""
    code = "import sys; from server.store import migrate; migrate(sys.argv[1])"
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-c", code, url], cwd=root, check=False)
    if done.returncode != 0:
        raise ConfigurationError(f"migrating the database failed (exit {done.returncode})")
