"""The instructor's cockpit: what each graded attempt failed on (for the class grid and the
analytics, written once per grade so both are plain SQL), hints granted beyond the automatic
ones, score overrides (append-only: the audit), and inline comments on students' files.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, String
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class AttemptError(SQLModel, table=True):
    """One graded attempt (a submission): its first failed test and error, normalised.
    ``line`` and ``signature`` are empty when the attempt passed every test. ``latest`` marks
    the newest attempt of its student on its exercise (the grid's last error)."""

    __tablename__ = "attempt_errors"
    __table_args__ = (
        Index("ix_attempt_errors_cell", "classroom_id", "user_id", "exercise_id", "submission_id"),
        Index("ix_attempt_errors_signature", "classroom_id", "exercise_id", "signature"),
        Index("ix_attempt_errors_latest", "classroom_id", "latest"),
    )

    submission_id: int = Field(foreign_key="submissions.id", primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id")
    user_id: int = Field(foreign_key="users.id")
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    test: str = Field(default="", max_length=200)
    line: str = Field(default="", max_length=200)
    signature: str = Field(default="", max_length=200)
    latest: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class AttemptOutcome(SQLModel, table=True):
    """One test's verdict in one graded attempt (an exercise test, unit cases folded in)."""

    __tablename__ = "attempt_outcomes"
    __table_args__ = (
        Index("ix_attempt_outcomes_exercise", "classroom_id", "exercise_id", "test", "passed"),
        Index("ix_attempt_outcomes_user", "classroom_id", "exercise_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    classroom_id: int = Field(foreign_key="classrooms.id")
    user_id: int = Field(foreign_key="users.id")
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    test: str = Field(max_length=200)
    passed: bool


class HintGrant(SQLModel, table=True):
    """A hint unlocked beyond the automatic ones: bought by the student or pushed by staff."""

    __tablename__ = "hint_grants"
    __table_args__ = (Index("ix_hint_grants_cell", "classroom_id", "user_id", "exercise_id"),)

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id")
    user_id: int = Field(foreign_key="users.id")
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    test: str = Field(max_length=200)
    source: str = Field(max_length=16)  # "bought" or "pushed"
    by_user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class ScoreOverride(SQLModel, table=True):
    """A score set by hand on a submission, beside its automatic grade; the latest counts,
    every earlier one stays (who and when)."""

    __tablename__ = "score_overrides"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    classroom_id: int = Field(foreign_key="classrooms.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    score: float
    comment: str = Field(default="", max_length=2000)
    by_user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class DocComment(SQLModel, table=True):
    """An inline comment on a document, anchored by an encoded Yjs relative position (base64)
    so it stays on its line while the code changes; replies name their ``parent_id``."""

    __tablename__ = "doc_comments"
    __table_args__ = (Index("ix_doc_comments_doc", "room_id", "doc", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="rooms.id")
    doc: str = Field(sa_column=Column(String(255), nullable=False))
    anchor: str = Field(default="", max_length=400)
    line: int | None = None
    parent_id: int | None = Field(default=None, foreign_key="doc_comments.id")
    author_id: int = Field(foreign_key="users.id")
    body: str = Field(max_length=2000)
    resolved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    resolved_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
