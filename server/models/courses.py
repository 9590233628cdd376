"""The log of course imports per classroom: what each import loaded, or why it was refused
(the dashboard's classroom card shows the last one, errors included, until the next)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
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
