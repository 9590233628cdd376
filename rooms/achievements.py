"""Achievements declared as data, and the evaluator that says which ones a student unlocks.

An :class:`Achievement` holds conditions that must all hold, and dependencies that must be
unlocked first. Conditions, by type:

- ``metric``: a number compared with ``operator`` (default ``gte``) to ``value``. Without
  ``timeframe`` the number is the student's lifetime total of ``metric``; with one ("7d",
  "30d", "1y") it is the sum of that activity in the last ``timeframe``.
- ``milestone``: a lifetime total of ``metric`` reaching ``value`` (always ``gte``).
- ``event``: the submission being evaluated was an ``event`` (``first_pass``, ...). With a
  ``timeframe``, the count of such events in that span compared with ``value`` (default ≥ 1).
- ``streak``: the current daily streak in days, compared with ``value``.

:meth:`Catalog.evaluate` visits achievements in dependency order and repeats until nothing
more unlocks, so one submission can unlock a chain; every unlock adds one to the
``achievements`` metric and its ``xp_reward`` to ``xp`` for the achievements after it.
Loading from TOML lives in :mod:`rooms.achievement_files`.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from rooms.exceptions import AchievementError

# Names the server fills in (server/gamification.py). A catalog naming anything else is
# refused when it loads rather than never unlocking.
METRICS = frozenset(
    {"submissions", "passes", "perfect_scores", "fastest_solves", "xp", "achievements"}
)
EVENTS = frozenset(
    {"submission", "pass", "first_pass", "perfect_score", "fastest_solver", "night_submission"}
)
# The names the server keeps dated history for, and so the only ones a timeframe may count.
WINDOWED = frozenset(
    {"passes", "perfect_scores", "fastest_solves", "xp", "first_pass", "perfect_score"}
    | {"fastest_solver"}
)


class Rarity(StrEnum):
    COMMON = "common"
    RARE = "rare"
    EPIC = "epic"
    LEGENDARY = "legendary"


class ConditionType(StrEnum):
    METRIC = "metric"
    EVENT = "event"
    STREAK = "streak"
    MILESTONE = "milestone"


class Operator(StrEnum):
    GTE = "gte"
    LTE = "lte"
    EQ = "eq"
    GT = "gt"
    LT = "lt"

    def test(self, left: float, right: float) -> bool:
        return _COMPARE[self](left, right)


_COMPARE: dict[Operator, Callable[[float, float], bool]] = {
    Operator.GTE: op.ge,
    Operator.LTE: op.le,
    Operator.EQ: op.eq,
    Operator.GT: op.gt,
    Operator.LT: op.lt,
}


@dataclass(frozen=True)
class AchievementCondition:
    type: ConditionType
    metric: str | None = None
    operator: Operator | None = None
    value: float | None = None
    event: str | None = None
    timeframe: timedelta | None = None


@dataclass(frozen=True)
class Achievement:
    id: str
    name: str
    description: str
    category: str
    rarity: Rarity
    icon: str
    xp_reward: int
    conditions: tuple[AchievementCondition, ...]
    dependencies: tuple[str, ...] = ()

    def to_message(self) -> dict[str, object]:
        """The achievement as clients see it in ``achievement.unlocked``."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "rarity": self.rarity.value,
            "icon": self.icon,
            "xp_reward": self.xp_reward,
        }


@dataclass(frozen=True)
class Activity:
    """Something that happened at ``at``; ``value`` is summed by timeframe conditions."""

    name: str
    at: datetime
    value: float = 1.0


@dataclass(frozen=True)
class Stats:
    """What the evaluator knows of one student at the instant ``now``."""

    now: datetime
    metrics: Mapping[str, float] = field(default_factory=dict)
    streak: int = 0
    events: Set[str] = frozenset()
    history: Sequence[Activity] = ()

    def windowed(self, name: str, timeframe: timedelta) -> float:
        since = self.now - timeframe
        return sum(a.value for a in self.history if a.name == name and since < a.at <= self.now)


def holds(condition: AchievementCondition, stats: Stats, metrics: Mapping[str, float]) -> bool:
    c = condition
    compare = c.operator or Operator.GTE
    match c.type:
        case ConditionType.METRIC:
            assert c.metric is not None and c.value is not None
            if c.timeframe is not None:
                return compare.test(stats.windowed(c.metric, c.timeframe), c.value)
            return compare.test(metrics.get(c.metric, 0.0), c.value)
        case ConditionType.MILESTONE:
            assert c.metric is not None and c.value is not None
            return metrics.get(c.metric, 0.0) >= c.value
        case ConditionType.EVENT:
            assert c.event is not None
            if c.timeframe is None:
                return c.event in stats.events
            return compare.test(stats.windowed(c.event, c.timeframe), c.value or 1.0)
        case ConditionType.STREAK:
            assert c.value is not None
            return compare.test(stats.streak, c.value)


class Catalog:
    """A validated set of achievements, kept in an order where dependencies come first."""

    def __init__(self, achievements: Iterable[Achievement]) -> None:
        by_id: dict[str, Achievement] = {}
        for a in achievements:
            if a.id in by_id:
                raise AchievementError(f"achievement {a.id!r} is declared twice")
            by_id[a.id] = a
        for a in by_id.values():
            for dep in a.dependencies:
                if dep not in by_id:
                    raise AchievementError(
                        f"achievement {a.id!r}: dependencies names unknown achievement {dep!r}"
                    )
        self._by_id = by_id
        self._ordered = _dependency_order(by_id)

    def __iter__(self) -> Iterator[Achievement]:
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    def __contains__(self, achievement_id: object) -> bool:
        return achievement_id in self._by_id

    def get(self, achievement_id: str) -> Achievement | None:
        return self._by_id.get(achievement_id)

    def merged(self, others: Iterable[Achievement]) -> Catalog:
        """This catalog plus ``others``; an id already here is refused."""
        return Catalog([*self._ordered, *others])

    @property
    def longest_timeframe(self) -> timedelta:
        """How much history the timeframe conditions look at (zero when none does)."""
        spans = [c.timeframe for a in self for c in a.conditions if c.timeframe is not None]
        return max(spans, default=timedelta(0))

    def evaluate(self, stats: Stats, unlocked: Set[str]) -> list[Achievement]:
        """Achievements newly unlocked by ``stats``, in unlock order (dependencies first)."""
        have = set(unlocked)
        metrics = dict(stats.metrics)
        new: list[Achievement] = []
        progressed = True
        while progressed:
            progressed = False
            for a in self._ordered:
                if a.id in have or not have.issuperset(a.dependencies):
                    continue
                if all(holds(c, stats, metrics) for c in a.conditions):
                    have.add(a.id)
                    new.append(a)
                    metrics["achievements"] = metrics.get("achievements", 0.0) + 1
                    metrics["xp"] = metrics.get("xp", 0.0) + a.xp_reward
                    progressed = True
        return new


def _dependency_order(by_id: Mapping[str, Achievement]) -> list[Achievement]:
    """Depth-first topological order, stable in declaration order; refuses cycles."""
    done: set[str] = set()
    visiting: list[str] = []
    out: list[Achievement] = []

    def visit(aid: str) -> None:
        if aid in done:
            return
        if aid in visiting:
            cycle = " -> ".join([*visiting[visiting.index(aid) :], aid])
            raise AchievementError(f"achievement dependencies form a cycle: {cycle}")
        visiting.append(aid)
        for dep in by_id[aid].dependencies:
            visit(dep)
        visiting.pop()
        done.add(aid)
        out.append(by_id[aid])

    for aid in by_id:
        visit(aid)
    return out


def submission_events(
    *,
    passed: bool,
    first_pass: bool,
    perfect: bool,
    solver_rank: int | None,
    local_time: datetime,
) -> frozenset[str]:
    """The event names one graded submission counts as (``local_time`` in class time)."""
    names = {"submission"}
    if passed:
        names.add("pass")
    if first_pass:
        names.add("first_pass")
    if perfect:
        names.add("perfect_score")
    if first_pass and solver_rank == 1:
        names.add("fastest_solver")
    if local_time.hour < 5:
        names.add("night_submission")
    return frozenset(names)
