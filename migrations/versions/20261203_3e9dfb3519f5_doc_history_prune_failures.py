"""doc_history_prune_failures: documents whose history pruning failed, and when to retry

The back-off of a document that keeps failing was kept in each server process's memory: a
restart forgot it, and every process retried the document on its own
(server/integrity/history.py).

Revision ID: 3e9dfb3519f5
Revises: e5a1c7d3b9f2
Create Date: 2026-12-03 06:27:35.871347
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e9dfb3519f5"
down_revision: str | Sequence[str] | None = "e5a1c7d3b9f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "doc_history_prune_failures",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("doc", sa.String(length=255), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
        ),
        sa.PrimaryKeyConstraint("room_id", "doc"),
    )


def downgrade() -> None:
    op.drop_table("doc_history_prune_failures")
