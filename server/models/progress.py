"""Progress and gamification: per-exercise progress, the XP ledger, unlocked achievements,
daily streaks.

``XpEvent`` is an append-only ledger: totals, weekly boards and a lost Redis leaderboard can
all be rebuilt from it. Exercises are referred to by their definition's string id, scoped by
classroom (two classrooms may both have a "hello-world").
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class Progress(SQLModel, table=True):
    __tablename__ = "progress"
    __table_args__ = (
        UniqueConstraint("user_id", "classroom_id", "exercise_id", name="uq_progress"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    exercise_id: str = Field(sa_column=Column(String(120), nullable=False))
    attempts: int = 0
    best_score: float = 0.0
    max_score: float = 0.0
    passed: bool = False
    first_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    last_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    first_pass_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Place among the room's first solvers when the first pass came inside a live window.
    live_rank: int | None = None


class XpEvent(SQLModel, table=True):
    __tablename__ = "xp_events"
    __table_args__ = (
        Index("ix_xp_events_user_created", "user_id", "created_at"),
        Index("ix_xp_events_classroom_created", "classroom_id", "created_at"),
        Index("ix_xp_events_room", "room_id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    user_id: int = Field(foreign_key="users.id")
    classroom_id: int = Field(foreign_key="classrooms.id")
    room_id: int | None = Field(default=None, foreign_key="rooms.id")
    exercise_id: str | None = Field(default=None, sa_column=Column(String(120)))
    amount: int
    reason: str = Field(max_length=32)
    detail: str = Field(default="", max_length=120)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class AchievementUnlock(SQLModel, table=True):
    __tablename__ = "achievement_unlocks"
    __table_args__ = (UniqueConstraint("user_id", "achievement_id", name="uq_achievement_unlock"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    achievement_id: str = Field(sa_column=Column(String(80), nullable=False))
    classroom_id: int | None = Field(default=None, foreign_key="classrooms.id")
    room_id: int | None = Field(default=None, foreign_key="rooms.id")
    unlocked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class Streak(SQLModel, table=True):
    """A student's daily streak in one classroom (days in the classroom's timezone)."""

    __tablename__ = "streaks"
    __table_args__ = (UniqueConstraint("user_id", "classroom_id", name="uq_streak"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    current: int = 0
    longest: int = 0
    last_day: date | None = Field(default=None, sa_column=Column(Date))
