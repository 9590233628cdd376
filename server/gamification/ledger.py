"""The progress tables and the XP ledger: what gamification decides from, and its writes.

Every instant stored here is UTC. SQLite hands datetimes back naive, PostgreSQL aware:
:func:`utc` makes both aware before they meet the pure code in ``rooms/``.

A graded submission reads (:func:`before`) and writes (:func:`save`) through synchronous
sessions on the store's thread (server/thread_sessions.py): one hop each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, Table, bindparam, func, insert, update
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.achievements import Activity
from rooms.progress import ExerciseProgress, ProgressChange
from rooms.xp import Reason
from server.models import AchievementUnlock, Progress, Streak, User, XpEvent
from server.models.clock import as_utc
from server.store import insert_all

utc = as_utc


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


# The statements of a graded submission, built once with their parameters: building one (its
# clauses and their cache key) cost more than running it, several times per grade.
_USER = bindparam("user_id", type_=Integer)
_CLASSROOM = bindparam("classroom_id", type_=Integer)
_EXERCISE = bindparam("exercise_id", type_=String)
_XP_TOTAL = select(func.coalesce(func.sum(XpEvent.amount), 0)).where(col(XpEvent.user_id) == _USER)
_PROGRESS_ROWS = select(Progress).where(col(Progress.user_id) == _USER)
_RECENT_XP = select(XpEvent.created_at, XpEvent.amount, XpEvent.reason).where(
    col(XpEvent.user_id) == _USER,
    col(XpEvent.created_at) > bindparam("since"),
)
_PROGRESS_ROW = select(Progress).where(
    col(Progress.user_id) == _USER,
    col(Progress.classroom_id) == _CLASSROOM,
    col(Progress.exercise_id) == _EXERCISE,
)
_STREAK_ROW = select(Streak).where(
    col(Streak.user_id) == _USER, col(Streak.classroom_id) == _CLASSROOM
)
_UNLOCKED = select(AchievementUnlock.achievement_id).where(col(AchievementUnlock.user_id) == _USER)
_NAME = select(User.name).where(col(User.id) == _USER)
_NAMES = select(User.id, User.name).where(col(User.id).in_(bindparam("user_ids", expanding=True)))
_FIRST_PASSES = select(func.count(func.distinct(XpEvent.user_id))).where(
    col(XpEvent.room_id) == bindparam("room_id", type_=Integer),
    col(XpEvent.exercise_id) == _EXERCISE,
    col(XpEvent.reason) == Reason.FIRST_PASS.value,
    col(XpEvent.user_id) != _USER,
    col(XpEvent.created_at) < bindparam("at"),
)


async def sum_xp(s: AsyncSession, user_id: int) -> int:
    return int((await s.exec(_XP_TOTAL, params={"user_id": user_id})).one())


@dataclass(frozen=True)
class _Row:
    """What the achievements read of one progress row."""

    attempts: int
    passed: bool
    perfect: bool
    fastest: bool
    first_pass_at: datetime | None

    @classmethod
    def of(cls, row: Progress) -> _Row:
        perfect = row.max_score > 0 and row.best_score >= row.max_score
        return cls(
            row.attempts, row.passed, perfect, row.live_rank == 1, _maybe_utc(row.first_pass_at)
        )


@dataclass(frozen=True)
class Standing:
    """A student's ledger as the achievements see it: every progress row, the XP total, and
    the XP rows within the longest timeframe. Read once before a submission writes anything
    (:func:`standing`), then brought up to date in memory with what it writes
    (:meth:`after`), so those reads never wait under SQLite's write lock."""

    rows: dict[tuple[int, str], _Row]
    xp: int
    recent_xp: list[tuple[datetime, int, str]]

    def after(self, classroom_id: int, row: Progress, awards: list[XpEvent]) -> Standing:
        updated = _Row.of(row)
        rows = {**self.rows, (classroom_id, row.exercise_id): updated}
        added = [(utc(a.created_at), a.amount, a.reason) for a in awards]
        return Standing(rows, self.xp + sum(a.amount for a in awards), self.recent_xp + added)

    def metrics(self, unlocked: int) -> dict[str, float]:
        """The lifetime totals achievements compare against (``achievements.METRICS``)."""
        rows = self.rows.values()
        return {
            "submissions": float(sum(r.attempts for r in rows)),
            "passes": float(sum(1 for r in rows if r.passed)),
            "perfect_scores": float(sum(1 for r in rows if r.perfect)),
            "fastest_solves": float(sum(1 for r in rows if r.fastest)),
            "xp": float(self.xp),
            "achievements": float(unlocked),
        }

    def history(self, at: datetime, span: timedelta) -> list[Activity]:
        """Dated activity within ``span`` before ``at``, for timeframe conditions
        (``achievements.WINDOWED``): first passes, fastest solves, XP and perfect scores."""
        if span <= timedelta(0):
            return []
        since = at - span
        out: list[Activity] = []
        for row in self.rows.values():
            when = row.first_pass_at
            if when is None or when <= since:
                continue
            out += [Activity("passes", when), Activity("first_pass", when)]
            if row.fastest:
                out += [Activity("fastest_solves", when), Activity("fastest_solver", when)]
        for when, amount, reason in self.recent_xp:
            if when <= since:
                continue
            out.append(Activity("xp", when, float(amount)))
            if reason == Reason.PERFECT:
                out += [Activity("perfect_scores", when), Activity("perfect_score", when)]
        return out


def standing(s: Session, user_id: int, at: datetime, span: timedelta) -> Standing:
    """The student's :class:`Standing` as stored (``span``: the longest timeframe)."""
    user = {"user_id": user_id}
    rows = s.exec(_PROGRESS_ROWS, params=user)
    recent: list[tuple[datetime, int, str]] = []
    if span > timedelta(0):
        xp = s.exec(_RECENT_XP, params={**user, "since": at - span})
        recent = [(utc(when), amount, reason) for when, amount, reason in xp.all()]
    return Standing(
        {(r.classroom_id, r.exercise_id): _Row.of(r) for r in rows.all()},
        int(s.exec(_XP_TOTAL, params=user).one()),
        recent,
    )


@dataclass(frozen=True)
class Before:
    """What a graded submission reads before it writes: its progress row (None before the
    first attempt), the streak row (a new one before the first), the achievements unlocked,
    the student's name and :class:`Standing`."""

    progress: Progress | None
    streak: Streak
    unlocked: set[str]
    name: str
    standing: Standing


def before(
    s: Session, *, user_id: int, classroom_id: int, exercise_id: str, at: datetime, span: timedelta
) -> Before:
    """The reads of one graded submission, in one session."""
    user = {"user_id": user_id}
    cell = {**user, "classroom_id": classroom_id}
    progress = s.exec(_PROGRESS_ROW, params={**cell, "exercise_id": exercise_id}).first()
    streak = s.exec(_STREAK_ROW, params=cell).first() or Streak(
        user_id=user_id, classroom_id=classroom_id
    )
    unlocked = set(s.exec(_UNLOCKED, params=user).all())
    name = s.exec(_NAME, params=user).first() or ""
    return Before(progress, streak, unlocked, name, standing(s, user_id, at, span))


_PROGRESS = (
    "attempts",
    "best_score",
    "max_score",
    "passed",
    "first_attempt_at",
    "last_attempt_at",
    "first_pass_at",
    "live_rank",
)
_STREAK = ("current", "longest", "last_day")


def save(
    s: Session,
    progress: Progress,
    streak: Streak,
    xp: Sequence[XpEvent],
    unlocks: Sequence[AchievementUnlock],
) -> None:
    """The writes of one graded submission, in ``s``'s transaction: the progress and streak
    rows (inserted when new, else their gamification columns updated), then the XP rows and
    the unlocks (store.py's ``insert_all``). A row another process inserted meanwhile raises
    IntegrityError (a unique constraint), and the caller reads again."""
    _upsert(s, progress, _PROGRESS)
    _upsert(s, streak, _STREAK)
    insert_all(s, xp)
    insert_all(s, unlocks)


def _upsert(s: Session, row: Progress | Streak, columns: tuple[str, ...]) -> None:
    insert_one, update_one = _UPSERTS[type(row)]
    if row.id is None:
        s.exec(insert_one, params=row.model_dump(exclude={"id"}))
    else:
        s.exec(update_one, params={"row_id": row.id, **{c: getattr(row, c) for c in columns}})


def _upserts(table: Table, columns: tuple[str, ...]) -> tuple[Any, Any]:
    """A row's INSERT, and the UPDATE of ``columns`` of the row whose id is ``row_id``."""
    changed = {c: bindparam(c, type_=table.c[c].type) for c in columns}
    by_id = table.c.id == bindparam("row_id", type_=Integer)
    return insert(table), update(table).where(by_id).values(changed)


_UPSERTS = {
    Progress: _upserts(Progress.__table__, _PROGRESS),  # type: ignore[attr-defined]
    Streak: _upserts(Streak.__table__, _STREAK),  # type: ignore[attr-defined]
}


def names(s: Session, user_ids: list[int]) -> dict[int, str]:
    rows = s.exec(_NAMES, params={"user_ids": user_ids})
    return {uid: name for uid, name in rows.all() if uid is not None}


def first_passes_before(
    s: Session, *, room_id: int, exercise_id: str, user_id: int, at: datetime
) -> int:
    """How many other students first passed ``exercise_id`` in ``room_id`` before ``at``."""
    params = {"room_id": room_id, "exercise_id": exercise_id, "user_id": user_id, "at": at}
    return int(s.exec(_FIRST_PASSES, params=params).one())


def to_pure(row: Progress) -> ExerciseProgress:
    return ExerciseProgress(
        user_id=row.user_id,
        exercise_id=row.exercise_id,
        attempts=row.attempts,
        best_score=row.best_score,
        max_score=row.max_score,
        passed=row.passed,
        first_attempt_at=_maybe_utc(row.first_attempt_at),
        last_attempt_at=_maybe_utc(row.last_attempt_at),
        first_pass_at=_maybe_utc(row.first_pass_at),
    )


def progress_row(
    row: Progress | None, classroom_id: int, change: ProgressChange, rank: int | None
) -> Progress:
    """``row`` (a new one when None) updated to ``change``; ``rank`` kept for a first pass."""
    p = change.progress
    if row is None:
        row = Progress(user_id=p.user_id, classroom_id=classroom_id, exercise_id=p.exercise_id)
    row.attempts = p.attempts
    row.best_score = p.best_score
    row.max_score = p.max_score
    row.passed = p.passed
    row.first_attempt_at = p.first_attempt_at
    row.last_attempt_at = p.last_attempt_at
    row.first_pass_at = p.first_pass_at
    if change.first_pass:
        row.live_rank = rank
    return row
