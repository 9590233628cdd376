"""Reading one table of an exercise file: typed getters that refuse with the key path and
the line (:class:`InvalidExercise`), unknown keys refused when the table is finished."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, NoReturn, TypeVar

from sandbox.grading.definitions import CompareMode, LateMode, Visibility
from sandbox.grading.exceptions import InvalidExercise

KeyPath = tuple[str | int, ...]
Locate = Callable[[KeyPath], int | None]
ReadFile = Callable[[str], str]

_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_MISSING: Any = object()
_E = TypeVar("_E", Visibility, CompareMode, LateMode)


def path_problem(path: str) -> str | None:
    """Why ``path`` is not acceptable as a file name inside a run, or None if it is."""
    if not path or len(path) > 200:
        return "must be 1 to 200 characters"
    parts = path.split("/")
    if any(not _PATH_PART.fullmatch(part) for part in parts):
        return "must be a relative path of letters, digits, '_', '-' and '.' parts"
    return None


def _name(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "exercise"


def kind_of(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    names |= {list: "array", dict: "table", datetime: "datetime", date: "date"}
    return names.get(type(value), type(value).__name__)


class Table:
    """One table of the definition: typed reads that remember which keys were used."""

    def __init__(self, data: object, path: KeyPath, ctx: Context) -> None:
        self.path, self.ctx = path, ctx
        if not isinstance(data, dict):
            ctx.fail(path, f"expected a table, got {kind_of(data)}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self.used.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            self.ctx.fail((*self.path, key), "missing required key", at=self.path)
        return default

    def fail(self, key: str, reason: str) -> NoReturn:
        self.ctx.fail((*self.path, key), reason)

    def text(self, key: str, default: Any = _MISSING) -> Any:
        value = self.raw(key, default)
        if value is not default and not isinstance(value, str):
            self.fail(key, f"expected a string, got {kind_of(value)}")
        if isinstance(value, str) and "\x00" in value:
            # A TOML or YAML escape can write it; PostgreSQL's text cannot hold it.
            self.fail(key, "holds U+0000 (NUL), which is not text")
        return value

    def number(self, key: str, default: Any = _MISSING, *, low: float = 0.0) -> Any:
        value = self.raw(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, f"expected a number, got {kind_of(value)}")
        if not math.isfinite(value) or value < low:
            self.fail(key, f"must be a finite number >= {low:g}, got {value!r}")
        return float(value)

    def choice(self, key: str, enum: type[_E], default: _E) -> _E:
        value = self.text(key, default.value)
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            self.fail(key, f"expected one of {allowed}, got {value!r}")

    def finish(self) -> None:
        for key in self.data:
            if key not in self.used:
                self.ctx.fail((*self.path, str(key)), "unknown key")


class Context:
    def __init__(self, source: str, locate: Locate | None, read_file: ReadFile | None) -> None:
        self.source, self.locate, self.read_file = source, locate, read_file

    def fail(self, path: KeyPath, reason: str, *, at: KeyPath | None = None) -> NoReturn:
        line = None
        if self.locate is not None:
            line = self.locate(at if at is not None else path)
            if line is None and path:
                line = self.locate(path[:-1])
        raise InvalidExercise(self.source, f"{_name(path)}: {reason}", line)
