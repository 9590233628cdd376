"""What the security layer keeps: each user's session generation and closed join codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class SessionGeneration(SQLModel, table=True):
    """Tokens signed with a smaller generation than the user's are revoked (sign-out, reset)."""

    __tablename__ = "session_generations"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    generation: int = Field(default=0)


class ClosedJoinCode(SQLModel, table=True):
    """A classroom whose join code an instructor closed: nobody joins until it is rotated."""

    __tablename__ = "closed_join_codes"

    classroom_id: int = Field(foreign_key="classrooms.id", primary_key=True)
    closed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
