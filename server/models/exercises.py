"""Exercises imported per classroom, submissions and their grades, and live exercise windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class ExerciseRecord(SQLModel, table=True):
    """``definition`` is ``exercise_to_dict(exercise)`` (sandbox.grading.dump); importing again
    updates it in place."""

    __tablename__ = "exercises"
    __table_args__ = (UniqueConstraint("classroom_id", "exercise_id", name="uq_exercise_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    title: str = Field(max_length=200)
    language: str = Field(max_length=32)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    version: int = 1
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class Submission(SQLModel, table=True):
    """One graded attempt. ``results`` is the full Gradescope-shaped result (staff view)."""

    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_lookup", "classroom_id", "exercise_id", "user_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id")
    room_id: int | None = Field(default=None, foreign_key="rooms.id", index=True)
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    user_id: int = Field(foreign_key="users.id", index=True)
    attempt: int
    files: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="grading", max_length=16)
    score: float | None = None
    max_score: float | None = None
    passed: bool = False
    results: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, max_length=500)
    exercise_version: int = 1
    submitted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    graded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class LiveExercise(SQLModel, table=True):
    """An exercise opened live in a room: the window the speed bonus counts from."""

    __tablename__ = "live_exercises"

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="rooms.id", index=True)
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    opened_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    closes_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
