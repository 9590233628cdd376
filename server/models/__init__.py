"""Every table of the classroom, one module per concept. Importing this package registers
them all on ``SQLModel.metadata`` (Alembic's target)."""

from __future__ import annotations

from sqlmodel import SQLModel

from server.models.accounts import Classroom, Membership, Role, Room, RoomKind, User, UserKind
from server.models.documents import DocSnapshot, DocUpdate

metadata = SQLModel.metadata

__all__ = [
    "Classroom",
    "DocSnapshot",
    "DocUpdate",
    "Membership",
    "Role",
    "Room",
    "RoomKind",
    "User",
    "UserKind",
    "metadata",
]
