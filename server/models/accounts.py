"""Users, classrooms, rooms and who belongs where."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class UserKind(StrEnum):
    INSTRUCTOR = "instructor"
    STUDENT = "student"


class Role(StrEnum):
    """A user's role in a classroom, and so in each of its rooms."""

    INSTRUCTOR = "instructor"
    ASSISTANT = "assistant"
    STUDENT = "student"

    @property
    def is_staff(self) -> bool:
        return self is not Role.STUDENT


class RoomKind(StrEnum):
    LESSON = "lesson"
    PAIR = "pair"


def _timestamp() -> datetime:
    return utcnow()


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str | None = Field(default=None, sa_column=Column(String(254), unique=True))
    name: str = Field(max_length=80)
    password_hash: str | None = Field(default=None, max_length=256)
    kind: str = Field(default=UserKind.STUDENT.value, max_length=16)
    created_at: datetime = Field(
        default_factory=_timestamp, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class Classroom(SQLModel, table=True):
    __tablename__ = "classrooms"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=120)
    join_code: str = Field(sa_column=Column(String(16), unique=True, nullable=False))
    owner_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(
        default_factory=_timestamp, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class Room(SQLModel, table=True):
    __tablename__ = "rooms"

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    title: str = Field(max_length=120)
    kind: str = Field(default=RoomKind.LESSON.value, max_length=16)
    created_at: datetime = Field(
        default_factory=_timestamp, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("classroom_id", "user_id", name="uq_membership"),)

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    role: str = Field(default=Role.STUDENT.value, max_length=16)
    created_at: datetime = Field(
        default_factory=_timestamp, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
