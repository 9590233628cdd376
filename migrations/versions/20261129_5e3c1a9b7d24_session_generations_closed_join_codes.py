"""session generations, closed join codes

Revision ID: 5e3c1a9b7d24
Revises: 7c41e9a2b5d3
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e3c1a9b7d24"
down_revision: str | Sequence[str] | None = "7c41e9a2b5d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_generations",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "closed_join_codes",
        sa.Column("classroom_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["classroom_id"], ["classrooms.id"]),
        sa.PrimaryKeyConstraint("classroom_id"),
    )


def downgrade() -> None:
    op.drop_table("closed_join_codes")
    op.drop_table("session_generations")
