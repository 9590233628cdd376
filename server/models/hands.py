"""The help queue: a raised hand goes pending → taken → done (or is lowered while pending)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class HandState(StrEnum):
    PENDING = "pending"
    TAKEN = "taken"
    DONE = "done"
    LOWERED = "lowered"


class Hand(SQLModel, table=True):
    __tablename__ = "hands"

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="rooms.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    doc: str | None = Field(default=None, max_length=200)
    message: str = Field(default="", max_length=500)
    state: str = Field(default=HandState.PENDING.value, max_length=16, index=True)
    taken_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    taken_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    closed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
