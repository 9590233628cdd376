"""Academic integrity: stored fingerprints per submission, instructors' reviews of similar
pairs, the typing history kept after compaction (updates and the checkpoint before them), and
the documents whose history could not be pruned."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow

# The start of a failed pruning's error kept in its row, enough for an operator to see why.
PRUNE_ERROR_CHARS = 300


class SubmissionFingerprints(SQLModel, table=True):
    """Winnowing fingerprints of one submission (rooms/integrity/fingerprints.py ``pack``)."""

    __tablename__ = "submission_fingerprints"
    __table_args__ = (
        Index("ix_submission_fingerprints_exercise", "classroom_id", "exercise_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", unique=True)
    classroom_id: int = Field(foreign_key="classrooms.id")
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    user_id: int = Field(foreign_key="users.id")
    language: str = Field(max_length=32)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class SimilarityReview(SQLModel, table=True):
    """An instructor's verdict on a pair; a confirmed one may carry the exercise's penalty."""

    __tablename__ = "similarity_reviews"
    __table_args__ = (Index("ix_similarity_reviews_exercise", "classroom_id", "exercise_id"),)

    id: int | None = Field(default=None, primary_key=True)
    classroom_id: int = Field(foreign_key="classrooms.id")
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    a_submission_id: int = Field(foreign_key="submissions.id")
    b_submission_id: int = Field(foreign_key="submissions.id")
    similarity: float = Field(sa_column=Column(Float, nullable=False))
    verdict: str = Field(max_length=16)  # confirmed | dismissed
    penalty_percent: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    penalized: str = Field(default="", max_length=200)  # user ids, comma separated
    note: str = Field(default="", max_length=1000)
    reviewer_id: int = Field(foreign_key="users.id")
    reviewed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class DocHistoryUpdate(SQLModel, table=True):
    """A document update compaction folded into the snapshot, kept for replay (same id)."""

    __tablename__ = "doc_history"
    __table_args__ = (
        Index("ix_doc_history_room_doc_id", "room_id", "doc", "id"),
        Index("ix_doc_history_created_at", "created_at"),
    )

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    room_id: int = Field(foreign_key="rooms.id")
    doc: str = Field(sa_column=Column(String(255), nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    author_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    inserted: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    inserted_key: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class DocHistoryCheckpoint(SQLModel, table=True):
    """The state a document's kept history starts from: everything up to ``upto_id``."""

    __tablename__ = "doc_history_checkpoints"

    room_id: int = Field(foreign_key="rooms.id", primary_key=True)
    doc: str = Field(sa_column=Column(String(255), primary_key=True))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    upto_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class DocHistoryPruneFailure(SQLModel, table=True):
    """A document whose history pruning failed (server/integrity/history.py): its failures in a
    row, and the time before which no server process tries it again."""

    __tablename__ = "doc_history_prune_failures"

    room_id: int = Field(foreign_key="rooms.id", primary_key=True)
    doc: str = Field(sa_column=Column(String(255), primary_key=True))
    failures: int = Field(sa_column=Column(Integer, nullable=False))
    retry_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    error: str = Field(default="", sa_column=Column(String(PRUNE_ERROR_CHARS), nullable=False))
