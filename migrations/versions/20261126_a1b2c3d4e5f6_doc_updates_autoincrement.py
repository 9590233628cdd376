"""doc_updates ids never reused on SQLite (AUTOINCREMENT)

Compaction deletes the updates folded into a snapshot; SQLite's plain rowid would then give
a new update the id of a deleted one, at or below the snapshot's last_update_id, and a load
would skip it. PostgreSQL's identity column never reuses ids: nothing to do there.

Revision ID: a1b2c3d4e5f6
Revises: 05cfd77c6e1d
Create Date: 2026-11-26 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "a1b2c3d4e5f6"
down_revision: str | Sequence[str] | None = "05cfd77c6e1d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "doc_updates", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "doc_updates", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
