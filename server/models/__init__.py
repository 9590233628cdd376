"""Every table of the classroom, one module per concept. Importing this package registers
them all on ``SQLModel.metadata`` (Alembic's target)."""

from __future__ import annotations

from sqlmodel import SQLModel

from server.models.accounts import Classroom, Membership, Role, Room, RoomKind, User, UserKind
from server.models.cockpit import AttemptError, AttemptOutcome, DocComment, HintGrant, ScoreOverride
from server.models.courses import CourseAsset, CourseImport
from server.models.demos import Demo, DemoSession, DemoTimelineEvent, QuizAnswer
from server.models.documents import DocSnapshot, DocUpdate
from server.models.exercises import ExerciseRecord, LiveExercise, Submission
from server.models.hands import Hand, HandState
from server.models.identity import AccountMerge, JoinPolicy, RejoinCode, RosterEntry
from server.models.integrity import (
    DocHistoryCheckpoint,
    DocHistoryPruneFailure,
    DocHistoryUpdate,
    SimilarityReview,
    SubmissionFingerprints,
)
from server.models.lti import (
    LtiContext,
    LtiDeployment,
    LtiGradeSync,
    LtiLineItem,
    LtiLogin,
    LtiNonce,
    LtiPlatform,
    LtiResourceLink,
    LtiUser,
)
from server.models.pairs import PairMember
from server.models.progress import AchievementUnlock, Progress, Streak, XpEvent
from server.models.runs import Run
from server.models.security import ClosedJoinCode, SessionGeneration

metadata = SQLModel.metadata

__all__ = [
    "AccountMerge",
    "AchievementUnlock",
    "AttemptError",
    "AttemptOutcome",
    "Classroom",
    "ClosedJoinCode",
    "CourseAsset",
    "CourseImport",
    "Demo",
    "DemoSession",
    "DemoTimelineEvent",
    "DocComment",
    "DocHistoryCheckpoint",
    "DocHistoryPruneFailure",
    "DocHistoryUpdate",
    "DocSnapshot",
    "DocUpdate",
    "ExerciseRecord",
    "Hand",
    "HandState",
    "HintGrant",
    "JoinPolicy",
    "LiveExercise",
    "LtiContext",
    "LtiDeployment",
    "LtiGradeSync",
    "LtiLineItem",
    "LtiLogin",
    "LtiNonce",
    "LtiPlatform",
    "LtiResourceLink",
    "LtiUser",
    "Membership",
    "PairMember",
    "Progress",
    "QuizAnswer",
    "RejoinCode",
    "Role",
    "Room",
    "RoomKind",
    "RosterEntry",
    "Run",
    "ScoreOverride",
    "SessionGeneration",
    "SimilarityReview",
    "Streak",
    "Submission",
    "SubmissionFingerprints",
    "User",
    "UserKind",
    "XpEvent",
    "metadata",
]
