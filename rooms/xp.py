"""XP rules: what a graded submission is worth.

XP is earned once per exercise, on its first pass; failing attempts earn nothing (they count
towards achievements instead). On top of that:

- **Speed, Kahoot-style.** In a live exercise (one the instructor opened for a window of
  length T), a first pass at elapsed time t earns ``first_pass * (1 - speed_weight·t/T)``:
  with the default weight ½ that is the full amount at the opening and half at the close.
  Passing after the window closed earns the floor (half); an exercise that was never live
  (homework) earns the full amount, as there is nothing to race.
- **Rank.** The first solvers of a live exercise in a room, within its window, get
  ``rank_bonus[rank-1]``.
- **Perfect.** The first full score on an exercise.
- **Streak.** The first activity of a day that extends a daily streak to n ≥ 2 days earns
  ``streak_per_day * (n-1)``, capped.

Every function takes the instants it needs; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rooms.progress import ProgressChange
from rooms.streaks import StreakChange


class Reason(StrEnum):
    FIRST_PASS = "first_pass"
    RANK = "rank"
    PERFECT = "perfect"
    STREAK = "streak"
    ACHIEVEMENT = "achievement"


@dataclass(frozen=True)
class XpAward:
    reason: Reason
    amount: int
    detail: str = ""
    """Why, for people: "rank 2", "3-day streak", an achievement id."""


@dataclass(frozen=True)
class LiveWindow:
    """The time an exercise is live in a room: opened at ``opened_at`` for ``duration``."""

    opened_at: datetime
    duration: timedelta

    def __post_init__(self) -> None:
        if self.opened_at.tzinfo is None:
            raise ValueError("opened_at must be timezone-aware")
        if self.duration <= timedelta(0):
            raise ValueError(f"a live window must last more than 0s, not {self.duration}")

    @property
    def closes_at(self) -> datetime:
        return self.opened_at + self.duration

    def contains(self, at: datetime) -> bool:
        return self.opened_at <= at <= self.closes_at

    def elapsed(self, at: datetime) -> float:
        """t/T clamped to [0, 1]: 0 at (or, with clock skew, before) the opening."""
        fraction = (at - self.opened_at) / self.duration
        return min(1.0, max(0.0, fraction))


@dataclass(frozen=True)
class XpRules:
    first_pass: int = 100
    speed_weight: float = 0.5
    rank_bonus: tuple[int, ...] = (50, 30, 20)
    perfect: int = 25
    streak_per_day: int = 10
    streak_cap: int = 50

    def __post_init__(self) -> None:
        if not 0.0 <= self.speed_weight <= 1.0:
            raise ValueError(f"speed_weight must be within [0, 1], not {self.speed_weight}")
        amounts = (self.first_pass, self.perfect, self.streak_per_day, self.streak_cap)
        if min((*amounts, *self.rank_bonus)) < 0:
            raise ValueError("XP amounts must be >= 0")

    def first_pass_points(self, at: datetime, window: LiveWindow | None) -> int:
        if window is None:
            return self.first_pass
        return round(self.first_pass * (1.0 - self.speed_weight * window.elapsed(at)))

    def rank_points(self, rank: int | None) -> int:
        if rank is None or not 1 <= rank <= len(self.rank_bonus):
            return 0
        return self.rank_bonus[rank - 1]

    def streak_points(self, days: int) -> int:
        return min(self.streak_cap, self.streak_per_day * max(0, days - 1))


def awards(
    rules: XpRules,
    change: ProgressChange,
    *,
    at: datetime,
    window: LiveWindow | None = None,
    solver_rank: int | None = None,
    streak: StreakChange | None = None,
) -> list[XpAward]:
    """The XP one graded submission earns, one award per reason, zero amounts left out.

    ``solver_rank`` is this student's place among the room's solvers of the live exercise
    (1 = first); it only counts for a first pass inside the window.
    """
    out: list[XpAward] = []
    if change.first_pass:
        out.append(XpAward(Reason.FIRST_PASS, rules.first_pass_points(at, window)))
        if window is not None and window.contains(at):
            out.append(XpAward(Reason.RANK, rules.rank_points(solver_rank), f"rank {solver_rank}"))
    if change.first_perfect:
        out.append(XpAward(Reason.PERFECT, rules.perfect))
    if streak is not None and streak.extended:
        days = streak.streak.current
        out.append(XpAward(Reason.STREAK, rules.streak_points(days), f"{days}-day streak"))
    return [a for a in out if a.amount > 0]


def total(awarded: list[XpAward]) -> int:
    return sum(a.amount for a in awarded)
