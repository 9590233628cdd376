"""Lasting identity: personal rejoin codes (digests only), class rosters, who may join a
classroom, and the audit record of every account merge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class RejoinCode(SQLModel, table=True):
    """A personal code that signs its user back in. Only the digest is kept
    (rooms/identity.py:code_digest); a merge moves the source's codes to the target."""

    __tablename__ = "rejoin_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    digest: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class RosterEntry(SQLModel, table=True):
    """A student on a classroom's roster, bound to the account made for them on import."""

    __tablename__ = "roster_entries"
    __table_args__ = (
        UniqueConstraint("classroom_id", "email", name="uq_roster_email"),
        UniqueConstraint("classroom_id", "student_id", name="uq_roster_student_id"),
        UniqueConstraint("classroom_id", "user_id", name="uq_roster_user"),
    )

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=80)
    email: str | None = Field(default=None, sa_column=Column(String(254)))
    student_id: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class JoinPolicy(SQLModel, table=True):
    """How a classroom admits students; a classroom without a row admits anyone with the code."""

    __tablename__ = "join_policies"

    classroom_id: int = Field(foreign_key="classrooms.id", primary_key=True)
    roster_required: bool = False


class AccountMerge(SQLModel, table=True):
    """Audit record: who merged which account into which, and how many rows moved."""

    __tablename__ = "account_merges"

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    source_user_id: int = Field(foreign_key="users.id")
    target_user_id: int = Field(foreign_key="users.id", index=True)
    by_user_id: int = Field(foreign_key="users.id")
    source_name: str = Field(max_length=80)
    moved: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
