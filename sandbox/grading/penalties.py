"""Penalties: late submission and CodeRunner-style per-attempt deductions, as percentages.

Percentages of all penalties add up (capped at 100) and are taken off the score once:
a 2-day-late third attempt under ``late.per_day = 10`` and ``attempts = [0, 10, 20]`` loses
20 + 20 = 40 %. The clock is the caller's: nothing here reads the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sandbox.grading.definitions import LateMode, LatePenalty, Penalties

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Applied:
    kind: str
    percent: float
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "percent": self.percent, "reason": self.reason}


def late(rule: LatePenalty | None, due: datetime | None, submitted_at: datetime) -> Applied | None:
    """The late penalty of a submission made at ``submitted_at``; a started day counts whole."""
    if rule is None or due is None or submitted_at <= due:
        return None
    days = math.ceil((submitted_at - due) / _DAY)
    raw = rule.percent * days if rule.mode is LateMode.PER_DAY else rule.percent
    percent = min(raw, rule.max_percent)
    when = f"{days} day{'s' if days != 1 else ''} late"
    return Applied("late", percent, when) if percent > 0 else None


def attempt(regime: tuple[float, ...], number: int) -> Applied | None:
    """Attempt ``number`` (from 1) loses ``regime[number - 1]`` percent; the last value repeats."""
    if not regime or number < 1:
        return None
    percent = regime[min(number, len(regime)) - 1]
    return Applied("attempt", percent, f"attempt {number}") if percent > 0 else None


def applicable(
    penalties: Penalties, due: datetime | None, submitted_at: datetime, number: int
) -> list[Applied]:
    found = (late(penalties.late, due, submitted_at), attempt(penalties.attempts, number))
    return [item for item in found if item is not None]


def apply(score: float, applied: list[Applied]) -> float:
    total = min(100.0, sum(item.percent for item in applied))
    return score * (100.0 - total) / 100.0
