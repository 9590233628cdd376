"""Leaderboards, pure: who leads a room (live) or a classroom's week, and who moved.

Rule 1: more points rank higher; at equal points, whoever reached them **earlier** ranks
higher; equal points reached in the same second share a rank (1, 2, 2, 4).

Rule 2: one float carries both, so a Redis sorted set orders a board by itself and every
process agrees: ``score = points·2³¹ + (2³¹-1 - seconds since 2020)``. Both parts are
integers and the total stays below 2⁵³, so the double is exact. Times are kept to the
second; points must stay below 2²² (≈4 million) per board.

A weekly board is keyed by the ISO week (``2026-W48``) of the classroom's local time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from rooms.streaks import zone

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_TIME_SLOTS = 1 << 31
MAX_POINTS = (1 << 22) - 1


def encode(points: int, at: datetime) -> float:
    if not -MAX_POINTS <= points <= MAX_POINTS:
        raise ValueError(f"points {points} out of the board's range ±{MAX_POINTS}")
    seconds = int((at - EPOCH).total_seconds())
    if not 0 <= seconds < _TIME_SLOTS:
        raise ValueError(f"time {at.isoformat()} out of the board's range")
    return float(points * _TIME_SLOTS + (_TIME_SLOTS - 1 - seconds))


def decode(score: float) -> tuple[int, datetime]:
    points, rest = divmod(int(score), _TIME_SLOTS)
    return points, EPOCH + timedelta(seconds=_TIME_SLOTS - 1 - rest)


class Scope(StrEnum):
    ROOM = "room"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class BoardId:
    """A room's live board, or a classroom's board for one ISO week."""

    scope: Scope
    owner: int
    week: str | None = None

    @classmethod
    def room(cls, room_id: int) -> BoardId:
        return cls(Scope.ROOM, room_id)

    @classmethod
    def weekly(cls, classroom_id: int, at: datetime, timezone: str | None = None) -> BoardId:
        return cls(Scope.WEEKLY, classroom_id, iso_week(at, timezone))

    @property
    def key(self) -> str:
        if self.scope is Scope.ROOM:
            return f"room:{self.owner}"
        return f"weekly:{self.owner}:{self.week}"

    def describe(self) -> dict[str, object]:
        if self.scope is Scope.ROOM:
            return {"board": "room", "room_id": self.owner}
        return {"board": "weekly", "classroom_id": self.owner, "week": self.week}


def iso_week(at: datetime, timezone: str | None = None) -> str:
    year, week, _ = at.astimezone(zone(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def week_end(week: str, timezone: str | None = None) -> datetime:
    """The instant the ISO ``week`` ends: the next Monday, 00:00 local time."""
    monday = date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
    next_monday = monday + timedelta(weeks=1)
    return datetime(next_monday.year, next_monday.month, next_monday.day, tzinfo=zone(timezone))


@dataclass(frozen=True)
class Standing:
    user_id: int
    points: int
    reached_at: datetime


@dataclass(frozen=True)
class Entry:
    rank: int
    user_id: int
    points: int
    reached_at: datetime


def ranked(standings: Iterable[Standing]) -> list[Entry]:
    ordered = sorted(standings, key=lambda s: (-s.points, s.reached_at, s.user_id))
    out: list[Entry] = []
    for i, s in enumerate(ordered):
        prev = out[-1] if out else None
        tied = prev is not None and (prev.points, prev.reached_at) == (s.points, s.reached_at)
        rank = prev.rank if tied and prev is not None else i + 1
        out.append(Entry(rank, s.user_id, s.points, s.reached_at))
    return out


@dataclass(frozen=True)
class Move:
    """One student's place on a board after an award, and before it (None: newly listed)."""

    user_id: int
    points: int
    rank: int
    previous_rank: int | None

    @property
    def delta(self) -> int | None:
        """Places gained (positive) or lost; None for a newcomer."""
        return None if self.previous_rank is None else self.previous_rank - self.rank


def update_message(
    board: BoardId,
    entries: Iterable[Entry],
    move: Move,
    before: Iterable[Entry] = (),
    names: Mapping[int, str] | None = None,
) -> dict[str, object]:
    """A ``leaderboard.update``: the top ``entries`` with each one's rank delta against
    ``before`` (the top as it was), and the move that caused it."""
    previous = {e.user_id: e.rank for e in before}
    rows: list[dict[str, object]] = []
    for e in entries:
        was = previous.get(e.user_id)
        if e.user_id == move.user_id:
            was = move.previous_rank
        row: dict[str, object] = {
            "rank": e.rank,
            "user_id": e.user_id,
            "points": e.points,
            "delta": None if was is None else was - e.rank,
        }
        if names is not None:
            row["name"] = names.get(e.user_id, "")
        rows.append(row)
    moved = {
        "user_id": move.user_id,
        "points": move.points,
        "rank": move.rank,
        "previous_rank": move.previous_rank,
        "delta": move.delta,
    }
    return {"type": "leaderboard.update", **board.describe(), "entries": rows, "moved": moved}
