"""Validation of a demo's plain data (what TOML, YAML or stored JSON give) into a definition.

Design note: the schema knows nothing of files. It reports a failure as a *path* into the data
(``("steps", 2, "content", "files", 0, "highlight")``) and asks the ``locate`` callable it was
given for the line; each file format supplies its own locator. Messages name the step as
``step 3 (type 'code')`` and the field relative to it, so an author finds it without counting.
Unknown keys are refused: a typo such as ``auto_advnce`` must not silently do nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, NoReturn

from rooms.demos.content import content_reader
from rooms.demos.exceptions import DefinitionError
from rooms.demos.model import (
    Check,
    DemoDefinition,
    DemoStep,
    Difficulty,
    Metadata,
    SourceFile,
    StepType,
    Timing,
)

Path = tuple[str | int, ...]
Locate = Callable[[Path], int]
Read = Callable[[str], str]

MAX_STEPS = 500
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
_FILE_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def field_name(path: Path) -> str:
    """``("files", 0, "highlight")`` → ``files[0].highlight``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class Reader:
    """Typed access to plain data that fails with the file, line and a reason."""

    def __init__(self, file: str, locate: Locate, read: Read | None) -> None:
        self.file = file
        self.locate = locate
        self.read = read
        self.step: tuple[int, str | None] | None = None

    def fail(self, path: Path, reason: str, *, bare: bool = False) -> NoReturn:
        """Raise for ``path``; ``bare`` leaves the field name out of the message."""
        prefix = ""
        where = path
        if self.step is not None and len(path) >= 2 and path[0] == "steps":
            number, kind = self.step
            prefix = f"step {number} (type {kind!r}): " if kind else f"step {number}: "
            where = path[2:]
        name = "" if bare else field_name(where)
        raise DefinitionError(
            self.file, self.locate(path), prefix + (f"{name}: " if name else "") + reason
        )

    def table(
        self, data: Any, path: Path, keys: Collection[str], required: Collection[str] = ()
    ) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            self.fail(path, f"expected a table, got {_kind(data)}")
        for key in data:
            if key not in keys:
                expected = ", ".join(sorted(keys))
                self.fail((*path, str(key)), f"unknown key; expected one of {expected}")
        for key in sorted(required):
            if key not in data:
                self.fail(path, f"missing required key {key!r}")
        return data

    def text(
        self,
        data: Mapping[str, Any],
        path: Path,
        key: str,
        default: str | None = None,
        *,
        empty: bool = False,
    ) -> str:
        value = data.get(key, default)
        if value is None:
            self.fail(path, f"missing required key {key!r}")
        if not isinstance(value, str):
            self.fail((*path, key), f"expected a string, got {_kind(value)}")
        if "\x00" in value:  # a TOML or YAML escape can write it; PostgreSQL's text cannot
            self.fail((*path, key), "holds U+0000 (NUL), which is not text")
        if not empty and key in data and not value.strip():
            self.fail((*path, key), "must not be empty")
        return value

    def slug(self, data: Mapping[str, Any], path: Path, key: str) -> str:
        value = self.text(data, path, key)
        if not _SLUG.match(value):
            self.fail(
                (*path, key), f"{value!r} is not a valid id (lowercase letters, digits, - and _)"
            )
        return value

    def number(self, value: Any, path: Path, *, positive: bool = True) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"expected a number, got {_kind(value)}")
        if positive and not value > 0:
            self.fail(path, f"must be greater than 0, got {value}")
        return float(value)

    def integer(self, value: Any, path: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected an integer, got {_kind(value)}")
        return value

    def boolean(self, value: Any, path: Path) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def items(
        self, data: Mapping[str, Any], path: Path, key: str, *, required: bool = False
    ) -> list[Any]:
        if key not in data:
            if required:
                self.fail(path, f"missing required key {key!r}")
            return []
        value = data[key]
        if not isinstance(value, list):
            self.fail((*path, key), f"expected a list, got {_kind(value)}")
        return value

    def strings(self, data: Mapping[str, Any], path: Path, key: str) -> tuple[str, ...]:
        values = self.items(data, path, key)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                self.fail((*path, key, i), f"expected a string, got {_kind(value)}")
        return tuple(values)

    def choice(self, data: Mapping[str, Any], path: Path, key: str, allowed: type[Any]) -> Any:
        value = self.text(data, path, key)
        names = [member.value for member in allowed]
        if value not in names:
            self.fail((*path, key), f"{value!r} is not one of {', '.join(names)}")
        return allowed(value)

    def file_path(self, data: Mapping[str, Any], path: Path, key: str) -> str:
        value = self.text(data, path, key)
        if len(value) > 200 or not _FILE_PATH.match(value) or ".." in value.split("/"):
            self.fail((*path, key), f"{value!r} must be a relative path inside the demo folder")
        return value

    def source_text(self, data: Mapping[str, Any], path: Path) -> str:
        """A file's text, inline (``text``) or read from ``source`` next to the demo file."""
        if ("text" in data) == ("source" in data):
            self.fail(path, "give exactly one of 'text' (inline) or 'source' (a file path)")
        if "text" in data:
            return self.text(data, path, "text", empty=True)
        source = self.file_path(data, path, "source")
        if self.read is None:
            self.fail((*path, "source"), "files cannot be read here; inline the code with 'text'")
        try:
            return self.read(source)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.fail((*path, "source"), f"cannot read {source!r}: {reason}")


def _kind(value: Any) -> str:
    names = {
        dict: "a table",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "nothing",
    }
    return names.get(type(value), f"a {type(value).__name__}")


_TOP = {"id", "title", "description", "difficulty", "estimated_minutes", "metadata", "steps"}
_META = {"tags", "prerequisites", "learning_objectives", "author", "version"}
_STEP = {"id", "type", "title", "content", "timing", "validation"}
_TIMING = {"auto_advance", "duration", "pause_points"}
_CHECK = {"language", "files", "student_file", "stdin", "expected_stdout"}


def validate(data: Any, *, file: str, locate: Locate, read: Read | None = None) -> DemoDefinition:
    """The definition in ``data``, or DefinitionError naming ``file``, the line and the reason."""
    r = Reader(file, locate, read)
    top = r.table(data, (), _TOP, {"id", "title", "difficulty", "estimated_minutes", "steps"})
    ident = r.slug(top, (), "id")
    title = r.text(top, (), "title")
    description = r.text(top, (), "description", "", empty=True)
    difficulty = r.choice(top, (), "difficulty", Difficulty)
    minutes = r.number(top["estimated_minutes"], ("estimated_minutes",))
    metadata = _metadata(r, top.get("metadata", {}))
    raw_steps = r.items(top, (), "steps", required=True)
    if not raw_steps:
        r.fail(("steps",), "a demo needs at least one step")
    if len(raw_steps) > MAX_STEPS:
        r.fail(("steps",), f"{len(raw_steps)} steps; at most {MAX_STEPS}")
    steps: list[DemoStep] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_steps):
        step = _step(r, raw, index)
        if step.id in seen:
            r.fail(("steps", index, "id"), f"duplicate step id {step.id!r}")
        seen.add(step.id)
        steps.append(step)
    r.step = None
    return DemoDefinition(
        id=ident,
        title=title,
        description=description,
        difficulty=difficulty,
        estimated_minutes=minutes,
        steps=tuple(steps),
        metadata=metadata,
    )


def _metadata(r: Reader, data: Any) -> Metadata:
    path: Path = ("metadata",)
    meta = r.table(data, path, _META)
    version = meta.get("version", "")
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)  # YAML reads `version: 1.0` as a number
    return Metadata(
        tags=r.strings(meta, path, "tags"),
        prerequisites=r.strings(meta, path, "prerequisites"),
        learning_objectives=r.strings(meta, path, "learning_objectives"),
        author=r.text(meta, path, "author", "", empty=True),
        version=r.text({"version": version}, path, "version", empty=True),
    )


def _step(r: Reader, raw: Any, index: int) -> DemoStep:
    path: Path = ("steps", index)
    kind_text = raw.get("type") if isinstance(raw, Mapping) else None
    r.step = (index + 1, kind_text if isinstance(kind_text, str) else None)
    data = r.table(raw, path, _STEP, {"id", "type", "title"})
    names = [t.value for t in StepType]
    if kind_text not in names:
        r.fail((*path, "type"), f"unknown step type; expected one of {', '.join(names)}", bare=True)
    kind = StepType(kind_text)
    step_id = r.slug(data, path, "id")
    title = r.text(data, path, "title")
    content = content_reader(kind)(r, data.get("content", {}), (*path, "content"))
    timing = _timing(r, data.get("timing", {}), (*path, "timing"))
    validation = (
        _check(r, data["validation"], (*path, "validation")) if "validation" in data else None
    )
    return DemoStep(step_id, kind, title, content, timing, validation)


def _timing(r: Reader, raw: Any, path: Path) -> Timing:
    data = r.table(raw, path, _TIMING)
    auto = r.boolean(data.get("auto_advance", False), (*path, "auto_advance"))
    duration = r.number(data["duration"], (*path, "duration")) if "duration" in data else None
    if auto and duration is None:
        r.fail(path, "auto_advance needs a duration (seconds)")
    points = [
        r.number(p, (*path, "pause_points", i))
        for i, p in enumerate(r.items(data, path, "pause_points"))
    ]
    if points and not auto:
        r.fail((*path, "pause_points"), "pause points need auto_advance = true")
    if points != sorted(set(points)):
        r.fail((*path, "pause_points"), "must be increasing, without repeats")
    if points and duration is not None and points[-1] >= duration:
        r.fail(
            (*path, "pause_points"),
            f"{points[-1]:g} is not before the end of the step ({duration:g} s)",
        )
    return Timing(auto, duration, tuple(points))


def _check(r: Reader, raw: Any, path: Path) -> Check:
    data = r.table(raw, path, _CHECK, {"language", "expected_stdout"})
    if ("files" in data) == ("student_file" in data):
        r.fail(path, "give exactly one of 'files' or 'student_file' (the student's document)")
    files: list[SourceFile] = []
    for i, item in enumerate(r.items(data, path, "files")):
        fpath: Path = (*path, "files", i)
        table = r.table(item, fpath, {"path", "text", "source"}, {"path"})
        files.append(SourceFile(r.file_path(table, fpath, "path"), r.source_text(table, fpath)))
    if "files" in data and not files:
        r.fail((*path, "files"), "a check needs at least one file")
    return Check(
        language=r.slug(data, path, "language"),
        expected_stdout=r.text(data, path, "expected_stdout", empty=True),
        files=tuple(files),
        student_file=r.file_path(data, path, "student_file") if "student_file" in data else None,
        stdin=r.text(data, path, "stdin", "", empty=True),
    )
