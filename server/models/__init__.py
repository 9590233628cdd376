"""Every table of the classroom, one module per concept. Importing this package registers
them all on ``SQLModel.metadata`` (Alembic's target)."""

from __future__ import annotations

from sqlmodel import SQLModel

from server.models.accounts import Classroom, Membership, Role, Room, RoomKind, User, UserKind
from server.models.courses import CourseAsset
from server.models.demos import Demo, DemoSession, DemoTimelineEvent, QuizAnswer
from server.models.documents import DocSnapshot, DocUpdate
from server.models.exercises import ExerciseRecord, LiveExercise, Submission
from server.models.hands import Hand, HandState
from server.models.pairs import PairMember
from server.models.progress import AchievementUnlock, Progress, Streak, XpEvent
from server.models.runs import Run

metadata = SQLModel.metadata

__all__ = [
    "AchievementUnlock",
    "Classroom",
    "CourseAsset",
    "Demo",
    "DemoSession",
    "DemoTimelineEvent",
    "DocSnapshot",
    "DocUpdate",
    "ExerciseRecord",
    "Hand",
    "HandState",
    "LiveExercise",
    "Membership",
    "PairMember",
    "Progress",
    "QuizAnswer",
    "Role",
    "Room",
    "RoomKind",
    "Run",
    "Streak",
    "Submission",
    "User",
    "UserKind",
    "XpEvent",
    "metadata",
]
