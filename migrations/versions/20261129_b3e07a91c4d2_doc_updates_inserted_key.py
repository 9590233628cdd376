"""doc_updates and doc_history: inserted_key (CRC-32 of an update's inserted text)

Lets a paste signal skip the exercise's starter code that the editor seeds into an empty
file (server/integrity/pastes.py).

Revision ID: b3e07a91c4d2
Revises: 4cfa3f5ffff2
Create Date: 2026-11-29 15:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3e07a91c4d2"
down_revision: str | Sequence[str] | None = "4cfa3f5ffff2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("doc_updates", "doc_history"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("inserted_key", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column by recreating the table: keep doc_updates' AUTOINCREMENT.
    kwargs = {"doc_updates": {"sqlite_autoincrement": True}}
    for table in ("doc_history", "doc_updates"):
        with op.batch_alter_table(table, table_kwargs=kwargs.get(table, {})) as batch_op:
            batch_op.drop_column("inserted_key")
