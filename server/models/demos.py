"""Demos: definitions imported per classroom, presentation sessions, their step timeline and
quiz answers.

``Demo`` is keyed by (classroom, demo slug), so importing a course again updates a demo in
place. ``definition`` holds ``DemoDefinition.to_dict()``; read it back with
``rooms.demos.definition.from_dict``, which validates it again. Sessions refer to the demo by
slug: a re-imported demo does not rewrite the history of past sessions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from rooms.demos.quiz import QuizResult
from rooms.demos.timeline import TimelineRecord
from server.models.clock import utcnow


def _instant(seconds: float) -> datetime:
    """The pure layer's clock (epoch seconds) as a stored timestamp."""
    return datetime.fromtimestamp(seconds, UTC)


class Demo(SQLModel, table=True):
    __tablename__ = "demos"
    __table_args__ = (UniqueConstraint("classroom_id", "demo_id", name="uq_demo_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    demo_id: str = Field(sa_column=Column(String(80), nullable=False))
    title: str = Field(max_length=200)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class DemoSession(SQLModel, table=True):
    """One presentation of a demo in a room, from demo.start to demo.stop."""

    __tablename__ = "demo_sessions"

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="rooms.id", index=True)
    demo_id: str = Field(sa_column=Column(String(80), nullable=False))
    started_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class DemoTimelineEvent(SQLModel, table=True):
    """A ``TimelineRecord``: the room's move (no user) or one student's (joined, detached, …)."""

    __tablename__ = "demo_timeline_events"
    __table_args__ = (Index("ix_demo_timeline_session_at", "session_id", "at"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    session_id: int = Field(foreign_key="demo_sessions.id")
    user_id: int | None = Field(default=None, foreign_key="users.id")
    kind: str = Field(max_length=16)
    step: int | None = None
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))

    @classmethod
    def from_record(cls, session_id: int, record: TimelineRecord) -> DemoTimelineEvent:
        return cls(
            session_id=session_id,
            user_id=record.user_id,
            kind=record.kind.value,
            step=record.step,
            at=_instant(record.at),
        )


class QuizAnswer(SQLModel, table=True):
    """A student's final answer to one quiz of a session, scored when the quiz closed."""

    __tablename__ = "quiz_answers"
    __table_args__ = (UniqueConstraint("session_id", "step", "user_id", name="uq_quiz_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="demo_sessions.id", index=True)
    step: int
    user_id: int = Field(foreign_key="users.id", index=True)
    answer: Any = Field(sa_column=Column(JSON, nullable=False))
    answered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    correct: bool
    points: int

    @classmethod
    def from_result(cls, session_id: int, result: QuizResult) -> QuizAnswer:
        return cls(
            session_id=session_id,
            step=result.step,
            user_id=result.user_id,
            answer=result.answer,
            answered_at=_instant(result.answered_at),
            correct=result.correct,
            points=result.points,
        )
