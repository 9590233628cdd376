"""Stored CRDT documents: an append-only log of updates, folded now and then into a snapshot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


class DocUpdate(SQLModel, table=True):
    __tablename__ = "doc_updates"
    # AUTOINCREMENT on SQLite: without it a deleted highest id (compaction deletes the
    # folded updates) is handed out again, and a snapshot's last_update_id would hide it.
    __table_args__ = (
        Index("ix_doc_updates_room_doc_id", "room_id", "doc", "id"),
        {"sqlite_autoincrement": True},
    )

    # BIGINT on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY.
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    room_id: int = Field(foreign_key="rooms.id")
    doc: str = Field(sa_column=Column(String(255), nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    # Typing history (server/integrity): who sent it, and how many characters it inserted.
    author_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    inserted: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    inserted_key: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class DocSnapshot(SQLModel, table=True):
    __tablename__ = "doc_snapshots"

    room_id: int = Field(foreign_key="rooms.id", primary_key=True)
    doc: str = Field(sa_column=Column(String(255), primary_key=True))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    last_update_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
