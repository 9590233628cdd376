"""Gamification in a running process: where its leaderboards live, its achievement catalog,
the room snapshot's ``leaderboard`` part, and the graded event of a stored submission.

The grader calls, after a submission is graded::

    out = await gamification.record(graded_run(submission, live_window))
    await hub.publish_all(submission.room_id, out)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from rooms.achievement_files import builtin, load
from rooms.achievements import Catalog
from rooms.exceptions import AchievementError
from rooms.leaderboard import BoardId
from rooms.xp import LiveWindow
from server.exceptions import ConfigurationError
from server.gamification.game import Gamification, GradedRun
from server.gamification.leaderboard import InMemoryLeaderboard, LeaderboardStore, RedisLeaderboard
from server.models import AchievementUnlock, Room
from server.models.clock import as_utc
from server.models.exercises import LiveExercise, Submission
from server.settings import Settings
from server.store import Store

log = logging.getLogger("classroom.gamification")


def open_leaderboard(settings: Settings) -> LeaderboardStore:
    """Redis sorted sets when the process has Redis (every process must agree), else memory."""
    if settings.redis_url:
        return RedisLeaderboard.from_url(settings.redis_url, prefix=settings.redis_prefix + "lb:")
    return InMemoryLeaderboard()


def catalog(settings: Settings) -> Catalog:
    """The built-in achievements plus those of ``CLASSROOM_ACHIEVEMENTS_FILE``, if set."""
    if not settings.achievements_file:
        return builtin()
    path = Path(settings.achievements_file)
    try:
        return builtin().merged(load(path))
    except (OSError, AchievementError) as exc:
        raise ConfigurationError(f"CLASSROOM_ACHIEVEMENTS_FILE: {exc}") from None


async def unlocked(store: Store, catalog: Catalog, user_id: int) -> list[dict[str, object]]:
    """A student's achievements (the room snapshot's ``achievements`` part), so a page lists
    them again after a reload."""
    async with store.session() as s:
        rows = await s.exec(
            select(AchievementUnlock.achievement_id)
            .where(AchievementUnlock.user_id == user_id)
            .order_by(col(AchievementUnlock.id))
        )
        ids = list(rows.all())
    by_id = {a.id: a for a in catalog}
    return [by_id[i].to_message() for i in ids if i in by_id]


async def standings(
    store: Store, game: Gamification, room_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """The room's board and its classroom's board of the current week (the room snapshot's
    ``leaderboard`` part)."""
    async with store.session() as s:
        room = await s.get(Room, room_id)
    out: dict[str, Any] = {"room": await game.standings(BoardId.room(room_id))}
    if room is not None:
        weekly = BoardId.weekly(room.classroom_id, now or datetime.now(UTC))
        out["weekly"] = await game.standings(weekly)
    return out


def graded_run(submission: Submission, live: LiveExercise | None = None) -> GradedRun:
    """The event of a graded :class:`Submission`; ``live``: its exercise's live window."""
    if submission.score is None or submission.max_score is None:
        raise ValueError(f"submission {submission.id} is not graded")
    window = None
    if live is not None:
        opened, closes = as_utc(live.opened_at), as_utc(live.closes_at)
        if closes > opened:
            window = LiveWindow(opened, closes - opened)
    return GradedRun(
        user_id=submission.user_id,
        classroom_id=submission.classroom_id,
        room_id=submission.room_id,
        exercise_id=submission.exercise_id,
        score=submission.score,
        max_score=submission.max_score,
        passed=submission.passed,
        submitted_at=as_utc(submission.submitted_at),
        window=window,
    )
