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

from sqlalchemy import Table, func, insert, update
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.achievements import Activity
from rooms.progress import ExerciseProgress, ProgressChange
from rooms.xp import Reason
from server.models import AchievementUnlock, Progress, Streak, User, XpEvent
from server.models.clock import as_utc

utc = as_utc


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _xp_total(user_id: int) -> Any:
    return select(func.coalesce(func.sum(XpEvent.amount), 0)).where(XpEvent.user_id == user_id)


async def sum_xp(s: AsyncSession, user_id: int) -> int:
    return int((await s.exec(_xp_total(user_id))).one())


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
    rows = s.exec(select(Progress).where(Progress.user_id == user_id))
    recent: list[tuple[datetime, int, str]] = []
    if span > timedelta(0):
        xp = s.exec(
            select(XpEvent.created_at, XpEvent.amount, XpEvent.reason).where(
                XpEvent.user_id == user_id, col(XpEvent.created_at) > at - span
            )
        )
        recent = [(utc(when), amount, reason) for when, amount, reason in xp.all()]
    return Standing(
        {(r.classroom_id, r.exercise_id): _Row.of(r) for r in rows.all()},
        int(s.exec(_xp_total(user_id)).one()),
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
    progress = s.exec(
        select(Progress).where(
            Progress.user_id == user_id,
            Progress.classroom_id == classroom_id,
            Progress.exercise_id == exercise_id,
        )
    ).first()
    streak = s.exec(
        select(Streak).where(Streak.user_id == user_id, Streak.classroom_id == classroom_id)
    ).first() or Streak(user_id=user_id, classroom_id=classroom_id)
    unlocked = set(
        s.exec(
            select(AchievementUnlock.achievement_id).where(AchievementUnlock.user_id == user_id)
        ).all()
    )
    user = s.get(User, user_id)
    name = user.name if user is not None else ""
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
    the unlocks, each one ``INSERT`` run for every row (as store.py's ``insert_all``). A row
    another process inserted meanwhile raises IntegrityError (a unique constraint), and the
    caller reads again."""
    _upsert(s, progress, _PROGRESS)
    _upsert(s, streak, _STREAK)
    for rows in (xp, unlocks):
        if rows:
            table = type(rows[0]).__table__  # type: ignore[union-attr]
            s.exec(insert(table), params=[r.model_dump(exclude={"id"}) for r in rows])


def _upsert(s: Session, row: Progress | Streak, columns: tuple[str, ...]) -> None:
    table: Table = row.__table__  # type: ignore[union-attr]
    if row.id is None:
        s.exec(insert(table).values(row.model_dump(exclude={"id"})))
    else:
        values = {c: getattr(row, c) for c in columns}
        s.exec(update(table).where(table.c.id == row.id).values(values))


def names(s: Session, user_ids: list[int]) -> dict[int, str]:
    rows = s.exec(select(User.id, User.name).where(col(User.id).in_(user_ids)))
    return {uid: name for uid, name in rows.all() if uid is not None}


def first_passes_before(
    s: Session, *, room_id: int, exercise_id: str, user_id: int, at: datetime
) -> int:
    """How many other students first passed ``exercise_id`` in ``room_id`` before ``at``."""
    query = select(func.count(func.distinct(XpEvent.user_id))).where(
        XpEvent.room_id == room_id,
        XpEvent.exercise_id == exercise_id,
        XpEvent.reason == Reason.FIRST_PASS.value,
        XpEvent.user_id != user_id,
        col(XpEvent.created_at) < at,
    )
    return int(s.exec(query).one())


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
