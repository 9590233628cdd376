"""Every table of the classroom, one module per concept. Importing this package registers
them all on ``SQLModel.metadata`` (Alembic's target)."""

from __future__ import annotations

from sqlmodel import SQLModel

from server.models.accounts import Classroom, Membership, Role, Room, RoomKind, User, UserKind
from server.models.documents import DocSnapshot, DocUpdate
from server.models.hands import Hand, HandState
from server.models.pairs import PairMember
from server.models.progress import AchievementUnlock, Progress, Streak, XpEvent

metadata = SQLModel.metadata

__all__ = [
    "AchievementUnlock",
    "Classroom",
    "DocSnapshot",
    "DocUpdate",
    "Hand",
    "HandState",
    "Membership",
    "PairMember",
    "Progress",
    "Role",
    "Room",
    "RoomKind",
    "Streak",
    "User",
    "UserKind",
    "XpEvent",
    "metadata",
]
