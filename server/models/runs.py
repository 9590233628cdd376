"""Runs: one row per run, written when it is queued and completed when it has finished."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Text
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow

# Output kept per stream in the table (the backends cap a run's output before this).
STORED_OUTPUT_CHARS = 64 * 1024


class Run(SQLModel, table=True):
    __tablename__ = "runs"

    id: str = Field(primary_key=True, max_length=64)
    room_id: int = Field(foreign_key="rooms.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    language: str = Field(max_length=32)
    doc: str | None = Field(default=None, max_length=200)
    state: str = Field(default="queued", max_length=16)
    """``queued``, ``running`` or ``finished`` (:class:`sandbox.model.RunState`)."""
    status: str | None = Field(default=None, max_length=32, index=True)
    """A :class:`sandbox.model.RunStatus` once finished."""
    exit_code: int | None = None
    signal: str | None = Field(default=None, max_length=16)
    wall_ms: float | None = None
    cpu_ms: float | None = None
    memory_peak: int | None = Field(default=None, sa_column=Column(BigInteger))
    stdout: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    stderr: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    compile_output: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
