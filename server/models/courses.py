"""Course imports and assets per classroom: the log of imports (what each loaded, or why it was
refused: the dashboard's classroom card shows the last one until the next), and the images and
media of a course archive, served from our origin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class CourseImport(SQLModel, table=True):
    __tablename__ = "course_imports"

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    ok: bool
    # One ``file:line: reason`` per line when refused.
    errors: str = Field(default="", sa_column=Column(Text, nullable=False))
    # ImportReport.to_dict() when it succeeded: {"exercises": [...], "demos": [...]}.
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class CourseAsset(SQLModel, table=True):
    """``path`` is ``assets/…`` as the course files write it; ``content_type`` was decided by
    the importer (:mod:`rooms.demos.assets`), never sniffed."""

    __tablename__ = "course_assets"
    __table_args__ = (UniqueConstraint("classroom_id", "path", name="uq_course_asset"),)

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    path: str = Field(sa_column=Column(String(600), nullable=False))
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
