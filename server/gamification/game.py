"""A graded submission's consequences: progress, XP, streak, achievements, leaderboards.

:meth:`Gamification.record` is called once per graded submission (by the room-events socket
or the grader). It applies the pure rules of ``rooms/`` in one database transaction, then
adds the XP to the room's and the classroom's weekly leaderboard, and returns what to send
to the submission's room, as ``(Audience, message)`` pairs: ``xp.awarded`` (to the student),
``achievement.unlocked`` (to the room, which includes the student) and ``leaderboard.update``
(to the room, once per board). :meth:`Gamification.award` does the same for XP earned
elsewhere (a demo quiz). It knows no socket: the caller delivers them with
``RoomHub.publish_all`` (a submission made outside a room has nobody to tell).

Order matters: the database commits first, so a crash loses no XP; the leaderboard follows
and, being derived from the XP ledger, can be rebuilt (:meth:`Gamification.rebuild`) if
that step fails. All times come from the graded event, so replays are deterministic.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from rooms import streaks
from rooms.achievement_files import builtin
from rooms.achievements import Achievement, Catalog, Stats, submission_events
from rooms.events import ROOM_AUDIENCE, Outgoing, only
from rooms.leaderboard import BoardId, Entry, Scope, update_message, week_end
from rooms.progress import Graded, ProgressChange, apply
from rooms.xp import LiveWindow, Reason, XpAward, XpRules, awards
from server.gamification import ledger
from server.gamification.leaderboard import LeaderboardStore
from server.models import AchievementUnlock, Membership, XpEvent
from server.store import Store

log = logging.getLogger("classroom.gamification")
_ATTEMPTS = 3


@dataclass(frozen=True)
class GradedRun:
    """One graded submission. ``window``: the exercise's live window, if it was live."""

    user_id: int
    classroom_id: int
    room_id: int | None
    exercise_id: str
    score: float
    max_score: float
    passed: bool
    submitted_at: datetime
    window: LiveWindow | None = None


@dataclass(frozen=True)
class PointsAward:
    """XP earned outside a graded submission, e.g. ``reason`` "quiz" for a demo quiz answer."""

    user_id: int
    classroom_id: int
    room_id: int | None
    amount: int
    reason: str
    detail: str
    at: datetime


@dataclass(frozen=True)
class _Applied:
    change: ProgressChange
    awards: list[XpAward]
    unlocked: list[Achievement]
    streak: int
    total_xp: int
    name: str


class Gamification:
    def __init__(
        self,
        store: Store,
        leaderboard: LeaderboardStore,
        *,
        catalog: Catalog | None = None,
        rules: XpRules | None = None,
        top: int = 10,
    ) -> None:
        self._store = store
        self._board = leaderboard
        self._catalog = catalog if catalog is not None else builtin()
        self._rules = rules if rules is not None else XpRules()
        self._top = top
        self._locks = [asyncio.Lock() for _ in range(64)]

    @property
    def catalog(self) -> Catalog:
        """The achievements of this process (built in plus the operator's file)."""
        return self._catalog

    async def start(self) -> None:
        """Nothing to open: the store and the leaderboard connect lazily."""

    async def close(self) -> None:
        await self._board.close()

    async def record(self, run: GradedRun, *, timezone: str | None = None) -> list[Outgoing]:
        """Apply ``run`` and return the messages to deliver. ``timezone``: the classroom's
        (days of streaks, ISO weeks, night hours); UTC when None.

        Raises ValueError for an invalid event (negative score, naive time, unknown zone)
        before anything is written."""
        streaks.zone(timezone)
        run = _in_utc(run)
        Graded(run.user_id, run.exercise_id, run.score, run.max_score, run.passed, run.submitted_at)
        # One student's submissions are applied one at a time in this process; another
        # process racing on the same student hits a unique constraint and retries.
        async with self._locks[run.user_id % len(self._locks)]:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    applied = await self._apply(run, timezone)
                    break
                except IntegrityError:
                    if attempt == _ATTEMPTS:
                        raise
                    log.info("user %s: concurrent update, retry %s", run.user_id, attempt)
        out = self._messages(run, applied)
        amount = sum(a.amount for a in applied.awards)
        if amount > 0:
            out += await self._leaderboards(
                run.user_id, run.classroom_id, run.room_id, amount, at=run.submitted_at, tz=timezone
            )
        return out

    async def _apply(self, run: GradedRun, tz: str | None) -> _Applied:
        """Two hops to the store's thread (server/thread_sessions.py): the reads, outside
        any transaction, then the writes in one, which on SQLite holds the process's write
        lock only for its own statements. Between them, on the loop, the pure rules and, for
        a live first pass, the solver's place. This student's other submissions wait on
        ``record``'s per-student lock meanwhile."""
        at = run.submitted_at
        graded = Graded(run.user_id, run.exercise_id, run.score, run.max_score, run.passed, at)
        span = self._catalog.longest_timeframe
        read = partial(
            ledger.before,
            user_id=run.user_id,
            classroom_id=run.classroom_id,
            exercise_id=run.exercise_id,
            at=at,
            span=span,
        )
        was = await self._store.threaded.read(read)
        row = was.progress
        change = apply(None if row is None else ledger.to_pure(row), graded)
        rank = None
        if change.first_pass and run.window and run.room_id and run.window.contains(at):
            # The shared order places a solver when asked, in the order asked.
            rank = await self._solver_rank(run, run.room_id)

        progress = ledger.progress_row(row, run.classroom_id, change, rank)
        streak_row = was.streak
        before = streaks.Streak(streak_row.current, streak_row.longest, streak_row.last_day)
        streak = streaks.record(before, streaks.local_day(at, tz))
        streak_row.current = streak.streak.current
        streak_row.longest = streak.streak.longest
        streak_row.last_day = streak.streak.last_day

        awarded = awards(
            self._rules, change, at=at, window=run.window, solver_rank=rank, streak=streak
        )
        xp_rows = [_xp_row(run, award) for award in awarded]
        # What this submission writes, added to the standing in memory.
        standing = was.standing.after(run.classroom_id, progress, xp_rows)
        events = submission_events(
            passed=run.passed,
            first_pass=change.first_pass,
            perfect=graded.perfect,
            solver_rank=rank,
            local_time=at.astimezone(streaks.zone(tz)),
        )
        metrics = standing.metrics(unlocked=len(was.unlocked))
        stats = Stats(at, metrics, streak.streak.current, events, standing.history(at, span))
        unlocked = self._catalog.evaluate(stats, was.unlocked)
        rewards = [
            XpAward(Reason.ACHIEVEMENT, achievement.xp_reward, achievement.id)
            for achievement in unlocked
            if achievement.xp_reward > 0
        ]
        unlocks = [
            AchievementUnlock(
                user_id=run.user_id,
                achievement_id=achievement.id,
                classroom_id=run.classroom_id,
                room_id=run.room_id,
                unlocked_at=at,
            )
            for achievement in unlocked
        ]
        xp_rows += [_xp_row(run, award) for award in rewards]
        await self._store.threaded.write(
            partial(ledger.save, progress=progress, streak=streak_row, xp=xp_rows, unlocks=unlocks)
        )
        awarded.extend(rewards)
        total = standing.xp + sum(award.amount for award in rewards)
        return _Applied(change, awarded, unlocked, streak.streak.current, total, was.name)

    async def _solver_rank(self, run: GradedRun, room_id: int) -> int:
        try:
            return await self._board.solver_rank(room_id, run.exercise_id, run.user_id)
        except Exception:
            # Without the shared order (Redis down) count earlier first passes in the ledger:
            # right unless two processes race within the same moment.
            log.warning("room %s: no solver order, using the ledger", room_id, exc_info=True)
        count = partial(
            ledger.first_passes_before,
            room_id=room_id,
            exercise_id=run.exercise_id,
            user_id=run.user_id,
            at=run.submitted_at,
        )
        return await self._store.threaded.read(count) + 1

    def _messages(self, run: GradedRun, applied: _Applied) -> list[Outgoing]:
        out: list[Outgoing] = []
        amount = sum(a.amount for a in applied.awards)
        if amount > 0:
            xp_message = {
                "type": "xp.awarded",
                "user_id": run.user_id,
                "room_id": run.room_id,
                "exercise_id": run.exercise_id,
                "amount": amount,
                "total": applied.total_xp,
                "streak": applied.streak,
                "awards": [
                    {"reason": a.reason.value, "amount": a.amount, "detail": a.detail}
                    for a in applied.awards
                ],
            }
            out.append((only(run.user_id), xp_message))
        for achievement in applied.unlocked:
            message = {
                "type": "achievement.unlocked",
                "user_id": run.user_id,
                "name": applied.name,
                "achievement": achievement.to_message(),
            }
            # The room includes the student: sending to both would show it twice.
            out.append((ROOM_AUDIENCE, message))
        return out

    async def _leaderboards(
        self,
        user_id: int,
        classroom_id: int,
        room_id: int | None,
        amount: int,
        *,
        at: datetime,
        tz: str | None,
    ) -> list[Outgoing]:
        """Add ``amount`` to the room's and the weekly board; ``leaderboard.update`` for each.

        The ledger is committed before this runs: a failure here is logged, not raised, as the
        boards are derived and :meth:`rebuild` restores them."""
        boards = [BoardId.weekly(classroom_id, at, tz)]
        if room_id is not None:
            boards.insert(0, BoardId.room(room_id))
        moved = []
        try:
            for board in boards:
                before = await self._board.top(board, self._top)
                move = await self._board.add(board, user_id, amount, at)
                after = await self._board.top(board, self._top)
                moved.append((board, before, move, after))
        except Exception:
            log.warning("user %s: leaderboard update failed", user_id, exc_info=True)
        if room_id is None or not moved:
            return []
        try:  # one query for the names on every board
            names = await self._names({e.user_id for *_, after in moved for e in after})
        except Exception:
            log.warning("user %s: leaderboard names failed", user_id, exc_info=True)
            return []
        return [
            (ROOM_AUDIENCE, update_message(board, after, move, before, names))
            for board, before, move, after in moved
        ]

    async def award(self, grant: PointsAward, *, timezone: str | None = None) -> list[Outgoing]:
        """Add XP earned outside a graded submission (a demo quiz's points): one ledger row with
        ``grant.reason``, then the room's and the weekly board, as :meth:`record` does. Returns
        ``xp.awarded`` (to the student) and ``leaderboard.update`` (to the room) to deliver.
        A negative ``amount`` spends XP (a hint bought in the cockpit).
        Raises ValueError for a naive time before anything is written."""
        if grant.at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        if grant.amount == 0:
            return []
        at = grant.at.astimezone(UTC)
        # Under the student's lock: a submission being recorded read their XP before writing.
        async with self._locks[grant.user_id % len(self._locks)], self._store.session() as s:
            s.add(
                XpEvent(
                    user_id=grant.user_id,
                    classroom_id=grant.classroom_id,
                    room_id=grant.room_id,
                    amount=grant.amount,
                    reason=grant.reason[:32],
                    detail=grant.detail[:120],
                    created_at=at,
                )
            )
            await s.flush()
            total = await ledger.sum_xp(s, grant.user_id)
        message = {
            "type": "xp.awarded",
            "user_id": grant.user_id,
            "room_id": grant.room_id,
            "exercise_id": None,
            "amount": grant.amount,
            "total": total,
            "awards": [{"reason": grant.reason, "amount": grant.amount, "detail": grant.detail}],
        }
        out: list[Outgoing] = [(only(grant.user_id), message)]
        out += await self._leaderboards(
            grant.user_id, grant.classroom_id, grant.room_id, grant.amount, at=at, tz=timezone
        )
        return out

    async def standings(self, board: BoardId) -> dict[str, Any]:
        """A board as it stands, for ``room.snapshot``: ``{board…, "entries": [...]}``."""
        entries = await self._board.top(board, self._top)
        names = await self._names(e.user_id for e in entries)
        return {**board.describe(), "entries": [_row(e, names) for e in entries]}

    async def rebuild(self, board: BoardId, *, timezone: str | None = None) -> None:
        """Recompute ``board`` from the XP ledger (after Redis lost it, a merge, a member's
        removal): the points of the classroom's members only."""
        member = and_(
            col(Membership.classroom_id) == col(XpEvent.classroom_id),
            col(Membership.user_id) == col(XpEvent.user_id),
        )
        query = (
            select(XpEvent.user_id, func.sum(XpEvent.amount), func.max(XpEvent.created_at))
            .join(Membership, member)
            .group_by(col(XpEvent.user_id))
        )
        if board.scope is Scope.ROOM:
            query = query.where(XpEvent.room_id == board.owner)
        else:
            assert board.week is not None
            end = week_end(board.week, timezone)
            query = query.where(
                XpEvent.classroom_id == board.owner,
                col(XpEvent.created_at) >= (end - timedelta(weeks=1)).astimezone(UTC),
                col(XpEvent.created_at) < end.astimezone(UTC),
            )
        async with self._store.session() as s:
            rows = (await s.exec(query)).all()
        await self._board.clear(board)
        for user_id, points, reached in rows:
            if points:
                await self._board.add(board, user_id, int(points), ledger.utc(reached))

    async def _names(self, user_ids: Any) -> dict[int, str]:
        ids = list(user_ids)
        if not ids:
            return {}
        return await self._store.threaded.read(partial(ledger.names, user_ids=ids))


def _row(entry: Entry, names: dict[int, str]) -> dict[str, Any]:
    return {
        "rank": entry.rank,
        "user_id": entry.user_id,
        "name": names.get(entry.user_id, ""),
        "points": entry.points,
    }


def _in_utc(run: GradedRun) -> GradedRun:
    if run.submitted_at.tzinfo is None:
        raise ValueError("submitted_at must be timezone-aware")
    return replace(run, submitted_at=run.submitted_at.astimezone(UTC))


def _xp_row(run: GradedRun, award: XpAward) -> XpEvent:
    return XpEvent(
        user_id=run.user_id,
        classroom_id=run.classroom_id,
        room_id=run.room_id,
        exercise_id=run.exercise_id,
        amount=award.amount,
        reason=award.reason.value,
        detail=award.detail[:120],
        created_at=run.submitted_at,
    )
