"""Reads of the progress tables and the XP ledger that gamification decides from.

Every instant stored here is UTC. SQLite hands datetimes back naive, PostgreSQL aware:
:func:`utc` makes both aware before they meet the pure code in ``rooms/``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.achievements import Activity
from rooms.progress import ExerciseProgress, ProgressChange
from rooms.xp import Reason
from server.models import AchievementUnlock, Progress, XpEvent
from server.models.clock import as_utc

utc = as_utc


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


async def sum_xp(s: AsyncSession, user_id: int) -> int:
    query = select(func.coalesce(func.sum(XpEvent.amount), 0)).where(XpEvent.user_id == user_id)
    return int((await s.exec(query)).one())


async def metrics(
    s: AsyncSession, user_id: int, *, unlocked: int | None = None
) -> dict[str, float]:
    """The lifetime totals achievements compare against (``achievements.METRICS``).
    ``unlocked``: the student's achievement count when the caller has just read it."""
    p = Progress
    perfect = (col(p.max_score) > 0) & (col(p.best_score) >= col(p.max_score))
    row = (
        await s.exec(
            select(
                func.coalesce(func.sum(p.attempts), 0),
                func.coalesce(func.sum(case((col(p.passed), 1), else_=0)), 0),
                func.coalesce(func.sum(case((perfect, 1), else_=0)), 0),
                func.coalesce(func.sum(case((col(p.live_rank) == 1, 1), else_=0)), 0),
            ).where(p.user_id == user_id)
        )
    ).one()
    if unlocked is None:
        unlocked = (
            await s.exec(select(func.count()).where(AchievementUnlock.user_id == user_id))
        ).one()
    return {
        "submissions": float(row[0]),
        "passes": float(row[1]),
        "perfect_scores": float(row[2]),
        "fastest_solves": float(row[3]),
        "xp": float(await sum_xp(s, user_id)),
        "achievements": float(unlocked),
    }


async def history(s: AsyncSession, user_id: int, at: datetime, span: timedelta) -> list[Activity]:
    """Dated activity within ``span`` before ``at``, for timeframe conditions
    (``achievements.WINDOWED``): first passes, fastest solves, XP and perfect scores."""
    if span <= timedelta(0):
        return []
    since = at - span
    out: list[Activity] = []
    passes = await s.exec(
        select(Progress.first_pass_at, Progress.live_rank).where(
            Progress.user_id == user_id, col(Progress.first_pass_at) > since
        )
    )
    for first_pass_at, live_rank in passes.all():
        if first_pass_at is None:
            continue
        when = utc(first_pass_at)
        out += [Activity("passes", when), Activity("first_pass", when)]
        if live_rank == 1:
            out += [Activity("fastest_solves", when), Activity("fastest_solver", when)]
    xp = await s.exec(
        select(XpEvent.created_at, XpEvent.amount, XpEvent.reason).where(
            XpEvent.user_id == user_id, col(XpEvent.created_at) > since
        )
    )
    for created_at, amount, reason in xp.all():
        when = utc(created_at)
        out.append(Activity("xp", when, float(amount)))
        if reason == Reason.PERFECT:
            out += [Activity("perfect_scores", when), Activity("perfect_score", when)]
    return out


async def first_passes_before(
    s: AsyncSession, room_id: int, exercise_id: str, user_id: int, at: datetime
) -> int:
    """How many other students first passed ``exercise_id`` in ``room_id`` before ``at``."""
    query = select(func.count(func.distinct(XpEvent.user_id))).where(
        XpEvent.room_id == room_id,
        XpEvent.exercise_id == exercise_id,
        XpEvent.reason == Reason.FIRST_PASS.value,
        XpEvent.user_id != user_id,
        col(XpEvent.created_at) < at,
    )
    return int((await s.exec(query)).one())


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
