"""Each test's database starts as a copy of one that ``migrate`` brought to head once a session.

Design note. Bringing a new database to head with Alembic takes 0.15-0.2 s on SQLite and
about 0.5 s on PostgreSQL here, and almost every test that has a database migrated a new one
first (its app's lifespan or the ``store`` fixture did): about 500 times a run, minutes of
CI. So the first test of each kind migrates a template with the same ``migrate`` the server
uses, and every later test's database is a copy of it: SQLite's backup API into the test's
own file, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL (50 ms). The copy holds exactly what
the migrations made (tables, indexes, rows, ``alembic_version``), so the app and the
``store`` fixture find it at head and go on as they would after migrating. A module whose
tests need a database no migration has touched (the migrations' own tests, the schema
check) sets ``START_EMPTY = True`` and gets an empty one, as before.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from pathlib import Path

from server.store import migrate
from tests.services import POSTGRES_URL


def admin(statement: str) -> None:
    """Run ``statement`` on the PostgreSQL server's admin database (creating or dropping one)."""
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def postgres_url(name: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


class Templates:
    """The session's migrated templates, each made when first asked for."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    def sqlite_copy(self, target: Path) -> None:
        """Fill the new file ``target`` with the migrated template."""
        if self._sqlite is None:
            template = self._root / "template.db"
            migrate(f"sqlite:///{template}")
            self._sqlite = template
        with (
            contextlib.closing(sqlite3.connect(self._sqlite)) as source,
            contextlib.closing(sqlite3.connect(target)) as copy,
        ):
            source.backup(copy)

    def postgres_create(self, name: str) -> None:
        """Create the database ``name`` as a copy of the migrated template."""
        if self._postgres is None:
            template = f"classroom_test_template_{uuid.uuid4().hex[:12]}"
            admin(f'CREATE DATABASE "{template}"')
            try:
                migrate(postgres_url(template))
            except BaseException:
                admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                raise
            self._postgres = template
        admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._postgres}"')

    def close(self) -> None:
        template, self._postgres = self._postgres, None
        if template is not None:
            admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
