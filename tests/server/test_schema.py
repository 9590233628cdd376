"""server/schema.py: the head it knows is the migrations' head, and it tells a new database
from one at head."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from server.schema import SCHEMA_HEAD, migrate_in_child, schema_at_head
from tests.services import ROOT

# These tests migrate databases no migration has touched (tests/support/databases.py).
START_EMPTY = True


def test_schema_head_names_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]


def test_a_new_database_is_behind_until_migrated_in_a_child(database_url: str) -> None:
    assert not schema_at_head(database_url)
    migrate_in_child(database_url)
    assert schema_at_head(database_url)


def test_an_unreachable_database_is_refused_by_the_child(tmp_path: Path) -> None:
    import pytest

    from server.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="migrating the database failed"):
        migrate_in_child(f"sqlite:///{tmp_path / 'missing-dir' / 'x' / 'db'}?mode=ro")
