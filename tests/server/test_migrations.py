"""The schema is owned by Alembic: an empty database upgrades to head with no drift."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

import server.models
from server.store import migrate, sync_url

ROOT = Path(__file__).resolve().parents[2]

# These tests migrate databases no migration has touched (tests/support/databases.py).
START_EMPTY = True


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    return config


def test_one_head() -> None:
    script = ScriptDirectory.from_config(_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()


def test_upgrade_head_then_no_drift(database_url: str) -> None:
    migrate(database_url)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {
                "users",
                "classrooms",
                "rooms",
                "memberships",
                "doc_updates",
                "doc_snapshots",
            } <= tables
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, server.models.metadata)
            assert diff == [], diff
    finally:
        engine.dispose()
    # `alembic check` is the operator-facing form of the same question.
    command.check(_config(database_url))


def test_downgrade_to_base_and_back(database_url: str) -> None:
    migrate(database_url)
    command.downgrade(_config(database_url), "base")
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    migrate(database_url)
