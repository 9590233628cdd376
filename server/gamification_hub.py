"""Gamification in a running process: the component, its leaderboard store, the room
snapshot's ``leaderboard`` part, and delivery of what :meth:`Gamification.record` returns
through the room events hub.

The grader calls, after a submission is graded::

    game: Gamification = state.get("gamification")
    out = await game.record(graded_run(submission, live_window))
    await deliver(state.get("hub"), out, submission.room_id)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rooms.achievement_files import builtin, load
from rooms.achievements import Catalog
from rooms.events import ROOM_AUDIENCE, only
from rooms.exceptions import AchievementError
from rooms.leaderboard import BoardId
from rooms.xp import LiveWindow
from server.exceptions import ConfigurationError
from server.gamification import Gamification, GradedRun, Outbound, ToRoom
from server.hub import RoomConnection, RoomHub
from server.leaderboard import InMemoryLeaderboard, LeaderboardStore, RedisLeaderboard
from server.models import Room
from server.models.clock import as_utc
from server.models.exercises import LiveExercise, Submission
from server.settings import Settings
from server.state import AppState

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


def install(state: AppState) -> Gamification:
    """Register the ``gamification`` component, and the snapshot part when the hub exists."""
    game = Gamification(
        state.store, open_leaderboard(state.settings), catalog=catalog(state.settings)
    )
    state.add("gamification", game)
    hub: RoomHub | None = state.components.get("hub")
    if hub is not None:

        async def leaderboard(conn: RoomConnection) -> dict[str, Any]:
            return await standings(state, game, conn.room_id)

        hub.snapshot_part("leaderboard", leaderboard)
    return game


async def standings(
    state: AppState, game: Gamification, room_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """The room's board and its classroom's board of the current week."""
    async with state.store.session() as s:
        room = await s.get(Room, room_id)
    out: dict[str, Any] = {"room": await game.standings(BoardId.room(room_id))}
    if room is not None:
        weekly = BoardId.weekly(room.classroom_id, now or datetime.now(UTC))
        out["weekly"] = await game.standings(weekly)
    return out


async def deliver(hub: RoomHub, outbound: list[Outbound], room_id: int | None) -> None:
    """Send each message to its room, or to its student through ``room_id``'s sockets."""
    for to, message in outbound:
        if isinstance(to, ToRoom):
            await hub.publish(to.room_id, ROOM_AUDIENCE, message)
        elif room_id is not None:
            await hub.publish(room_id, only(to.user_id), message)
        else:
            log.debug("user %s: %s has no room to go through", to.user_id, message["type"])


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
