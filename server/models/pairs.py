"""Pair groups: which students share the ``pairs/{group}/…`` documents of a room."""

from __future__ import annotations

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel


class PairMember(SQLModel, table=True):
    __tablename__ = "pair_members"
    __table_args__ = (UniqueConstraint("room_id", "group", "user_id", name="uq_pair_member"),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="rooms.id", index=True)
    group: str = Field(sa_column=Column(String(100), nullable=False))
    user_id: int = Field(foreign_key="users.id", index=True)
