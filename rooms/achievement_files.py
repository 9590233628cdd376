"""Achievement catalogs in TOML: the built-in one and an instructor's own.

The format is an array of tables::

    [[achievement]]
    id = "ten-passes"
    name = "Ten Down"
    description = "Pass ten exercises."
    category = "progress"
    rarity = "rare"             # common | rare | epic | legendary
    icon = "🔟"
    xp_reward = 50
    dependencies = ["first-pass"]
    conditions = [{ type = "milestone", metric = "passes", value = 10 }]

A file that does not validate raises :class:`~rooms.exceptions.AchievementError` whose
message names the source, the entry and the field (``achievement[2] 'x'.conditions[0].
operator: ...``), so nothing half-loads. Unknown keys are errors too: a typo must not
silently turn a condition off.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TypeVar

from rooms.achievements import (
    EVENTS,
    METRICS,
    WINDOWED,
    Achievement,
    AchievementCondition,
    Catalog,
    ConditionType,
    Operator,
    Rarity,
)
from rooms.exceptions import AchievementError

_E = TypeVar("_E", bound=StrEnum)
_TIMEFRAME = re.compile(r"(\d{1,4})([hdwy])")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_UNITS["y"] = timedelta(days=365)
_ACHIEVEMENT_KEYS = frozenset(
    {"id", "name", "description", "category", "rarity", "icon", "xp_reward"}
    | {"conditions", "dependencies"}
)
_CONDITION_KEYS = frozenset({"type", "metric", "operator", "value", "event", "timeframe"})


def parse_timeframe(text: str) -> timedelta:
    """``"7d"`` → 7 days; units h, d, w, y (365 days)."""
    match = _TIMEFRAME.fullmatch(text)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"must look like 12h, 7d, 4w or 1y, not {text!r}")
    return int(match[1]) * _UNITS[match[2]]


def loads(text: str, *, source: str = "<string>") -> list[Achievement]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AchievementError(f"{source}: not valid TOML: {exc}") from None
    extra = set(data) - {"achievement"}
    if extra:
        raise AchievementError(f"{source}: unknown top-level key {sorted(extra)[0]!r}")
    entries = data.get("achievement", [])
    if not isinstance(entries, list):
        raise AchievementError(f"{source}: achievement must be an array of tables")
    return [_achievement(entry, f"{source}: achievement[{i}]") for i, entry in enumerate(entries)]


def load(path: Path) -> list[Achievement]:
    return loads(path.read_text(encoding="utf-8"), source=str(path))


def builtin() -> Catalog:
    """The achievements every classroom has (``rooms/achievements_builtin.toml``)."""
    text = resources.files("rooms").joinpath("achievements_builtin.toml").read_text("utf-8")
    return Catalog(loads(text, source="achievements_builtin.toml"))


def _achievement(entry: object, where: str) -> Achievement:
    if not isinstance(entry, Mapping):
        raise AchievementError(f"{where}: must be a table")
    aid = _text(entry, "id", where)
    where = f"{where} {aid!r}"
    _no_unknown(entry, _ACHIEVEMENT_KEYS, where)
    conditions = entry.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise AchievementError(f"{where}.conditions: must be a non-empty array of tables")
    deps = entry.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise AchievementError(f"{where}.dependencies: must be an array of achievement ids")
    xp = entry.get("xp_reward", 0)
    if isinstance(xp, bool) or not isinstance(xp, int) or xp < 0:
        raise AchievementError(f"{where}.xp_reward: must be an integer >= 0, not {xp!r}")
    return Achievement(
        id=aid,
        name=_text(entry, "name", where),
        description=_text(entry, "description", where),
        category=_text(entry, "category", where, default="general"),
        rarity=_optional(entry, "rarity", Rarity, where) or Rarity.COMMON,
        icon=_text(entry, "icon", where, default="🏅"),
        xp_reward=xp,
        conditions=tuple(
            _condition(c, f"{where}.conditions[{j}]") for j, c in enumerate(conditions)
        ),
        dependencies=tuple(deps),
    )


def _condition(entry: object, where: str) -> AchievementCondition:
    if not isinstance(entry, Mapping):
        raise AchievementError(f"{where}: must be a table")
    _no_unknown(entry, _CONDITION_KEYS, where)
    kind = _choice(entry, "type", ConditionType, where)
    operator = _optional(entry, "operator", Operator, where)
    value = entry.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise AchievementError(f"{where}.value: must be a number, not {value!r}")
    timeframe = None
    if "timeframe" in entry:
        try:
            timeframe = parse_timeframe(_text(entry, "timeframe", where))
        except ValueError as exc:
            raise AchievementError(f"{where}.timeframe: {exc}") from None
    metric = _name(entry, "metric", METRICS, where)
    event = _name(entry, "event", EVENTS, where)
    needs = {
        ConditionType.METRIC: ("metric", "value"),
        ConditionType.MILESTONE: ("metric", "value"),
        ConditionType.EVENT: ("event",),
        ConditionType.STREAK: ("value",),
    }[kind]
    counted = metric if kind is ConditionType.METRIC else event
    if timeframe is not None and counted is not None and counted not in WINDOWED:
        raise AchievementError(
            f"{where}.timeframe: {counted!r} has no dated history; "
            f"a timeframe can count {sorted(WINDOWED)}"
        )
    for key in needs:
        if entry.get(key) is None:
            raise AchievementError(f"{where}.{key}: required for a {kind.value} condition")
    if kind is ConditionType.MILESTONE and operator not in (None, Operator.GTE):
        raise AchievementError(f"{where}.operator: a milestone is always gte")
    if kind in (ConditionType.MILESTONE, ConditionType.STREAK) and timeframe is not None:
        raise AchievementError(f"{where}.timeframe: not allowed for a {kind.value} condition")
    number = None if value is None else float(value)
    return AchievementCondition(kind, metric, operator, number, event, timeframe)


def _no_unknown(entry: Mapping[str, object], allowed: frozenset[str], where: str) -> None:
    for key in entry:
        if key not in allowed:
            raise AchievementError(f"{where}.{key}: unknown field")


def _text(entry: Mapping[str, object], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise AchievementError(f"{where}.{key}: must be a non-empty string, not {value!r}")
    return value


def _name(entry: Mapping[str, object], key: str, known: frozenset[str], where: str) -> str | None:
    if key not in entry:
        return None
    value = _text(entry, key, where)
    if value not in known:
        raise AchievementError(f"{where}.{key}: unknown {key} {value!r}; known: {sorted(known)}")
    return value


def _choice(entry: Mapping[str, object], key: str, enum: type[_E], where: str) -> _E:
    value = entry.get(key)
    for member in enum:
        if member.value == value:
            return member
    allowed = ", ".join(e.value for e in enum)
    raise AchievementError(f"{where}.{key}: must be one of {allowed}, not {value!r}")


def _optional(entry: Mapping[str, object], key: str, enum: type[_E], where: str) -> _E | None:
    return _choice(entry, key, enum, where) if key in entry else None
