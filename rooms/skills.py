"""A student's standing, sans I/O: the skill radar over the course's topic tags, rank and
percentile in the class, and how an achievement's conditions read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rooms.achievements import Achievement, AchievementCondition


def radar(
    tags_of: Mapping[str, Sequence[str]], scores: Mapping[str, float]
) -> list[dict[str, object]]:
    """One axis per tag: the mean score (0..1) over the exercises carrying it; an exercise not
    attempted counts 0. ``tags_of`` maps an exercise to its tags, ``scores`` an exercise to
    best/max."""
    totals: dict[str, list[float]] = {}
    for exercise, tags in tags_of.items():
        for tag in tags:
            totals.setdefault(tag, []).append(scores.get(exercise, 0.0))
    return [
        {"tag": tag, "score": round(sum(values) / len(values), 3), "exercises": len(values)}
        for tag, values in sorted(totals.items())
    ]


def rank_and_percentile(mine: int, everyone: Iterable[int]) -> tuple[int, float]:
    """Rank (1 = most XP; ties share the better rank) and the percentage of the class with
    less XP than ``mine``."""
    values = list(everyone)
    if not values:
        return 1, 100.0
    above = sum(v > mine for v in values)
    below = sum(v < mine for v in values)
    return above + 1, round(100.0 * below / len(values), 1)


def describe(condition: AchievementCondition) -> str:
    when = f" within {condition.timeframe.days} days" if condition.timeframe else ""
    if condition.event:
        return f"{condition.event}{when}"
    op = {"gte": "≥", "lte": "≤", "eq": "=", "gt": ">", "lt": "<"}
    sign = op.get(condition.operator.value if condition.operator else "", "")
    value = condition.value if condition.value is None else f"{condition.value:g}"
    return f"{condition.metric or condition.type.value} {sign} {value}{when}".strip()


def achievement_view(achievement: Achievement, unlocked_at: str | None) -> dict[str, object]:
    return {
        **achievement.to_message(),
        "conditions": [describe(c) for c in achievement.conditions],
        "earned": unlocked_at is not None,
        "unlocked_at": unlocked_at,
    }
