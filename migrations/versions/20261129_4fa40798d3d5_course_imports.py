"""course imports

Revision ID: 4fa40798d3d5
Revises: 5e3c1a9b7d24
Create Date: 2026-11-29 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4fa40798d3d5"
down_revision: str | Sequence[str] | None = "5e3c1a9b7d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("classroom_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["classroom_id"], ["classrooms.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("course_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_imports_classroom_id"), ["classroom_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("course_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_imports_classroom_id"))
    op.drop_table("course_imports")
