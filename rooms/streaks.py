"""Daily streaks: consecutive calendar days with activity, in the classroom's timezone.

A "day" is a local calendar date, so a class in Tokyo that works at 08:00 every morning has a
streak even though those mornings straddle UTC midnight. The caller turns an instant into a
day with :func:`local_day` (UTC when the classroom has no timezone) and folds it in with
:func:`record`. Activity on a day older than the last recorded one changes nothing: streaks
only move forward.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ONE_DAY = timedelta(days=1)


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``, or UTC for ``None``/empty; ValueError names a bad zone."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


def local_day(at: datetime, timezone: str | None = None) -> date:
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    return at.astimezone(zone(timezone)).date()


@dataclass(frozen=True)
class Streak:
    current: int = 0
    longest: int = 0
    last_day: date | None = None

    def as_of(self, today: date) -> int:
        """The streak still alive on ``today``: kept through yesterday, lost after a gap."""
        if self.last_day is None or today - self.last_day > _ONE_DAY:
            return 0
        return self.current


@dataclass(frozen=True)
class StreakChange:
    streak: Streak
    extended: bool
    """True when this activity added a day (the first activity of a new day)."""
    broken: bool
    """True when a gap reset a streak of two days or more."""


def record(streak: Streak, day: date) -> StreakChange:
    """Fold activity on ``day`` into ``streak``."""
    last = streak.last_day
    if last is not None and day <= last:
        return StreakChange(streak, extended=False, broken=False)
    if last is not None and day - last == _ONE_DAY:
        current = streak.current + 1
        broken = False
    else:
        current = 1
        broken = streak.current >= 2
    new = Streak(current=current, longest=max(streak.longest, current), last_day=day)
    return StreakChange(new, extended=True, broken=broken)


def from_days(days: Iterable[date]) -> Streak:
    """Rebuild a streak from the days with activity (any order, duplicates allowed)."""
    streak = Streak()
    for day in sorted(set(days)):
        streak = record(streak, day).streak
    return streak
