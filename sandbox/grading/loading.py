"""Reading exercise files (TOML or YAML) from a course folder.

A course's ``exercises/`` folder holds ``<name>.toml`` / ``<name>.yaml`` files, or folders
``<name>/exercise.toml`` (or ``.yaml``) with the files a unit test names next to it. Errors
name the file and, where the parser or a key tells us, the line.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from sandbox.grading.definitions import Exercise
from sandbox.grading.exceptions import InvalidExercise
from sandbox.grading.schema import exercise_from_dict
from sandbox.grading.tables import KeyPath

MAX_FILE_BYTES = 1024 * 1024
SUFFIXES = (".toml", ".yaml", ".yml")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def load_exercise(path: str | Path) -> Exercise:
    """Read and check one exercise file. Raises :class:`InvalidExercise`."""
    path = Path(path)
    source = str(path)
    try:
        return _load_exercise(path, source)
    except RecursionError:
        # tomllib and PyYAML recurse per nesting level: `x = [[[[…` must be a bad file, not
        # a failed import.
        raise InvalidExercise(source, "nested too deeply", 1) from None


def _load_exercise(path: Path, source: str) -> Exercise:
    text = _read(path, source)
    lines: dict[KeyPath, int]
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = _TOML_AT.search(str(exc))
            reason = _TOML_AT.sub("", str(exc))
            raise InvalidExercise(source, reason, int(found.group(1)) if found else None) from None
        lines = toml_lines(text)
    elif path.suffix in (".yaml", ".yml"):
        data, lines = _yaml(text, source)
    else:
        raise InvalidExercise(source, f"not an exercise file (expected one of {SUFFIXES})")

    def read_file(name: str) -> str:
        return read_text(path.parent / name)

    return exercise_from_dict(
        data, source, locate=lambda key: _line(lines, key), read_file=read_file
    )


def load_course_exercises(folder: str | Path) -> list[Exercise]:
    """Every exercise of a course folder, sorted by file name. Raises :class:`InvalidExercise`
    for the first bad file, or for two files with the same exercise id."""
    exercises, problems = check_course_exercises(folder)
    if problems:
        raise problems[0]
    return exercises


def check_course_exercises(folder: str | Path) -> tuple[list[Exercise], list[InvalidExercise]]:
    """The good exercises of a course folder and the problem of each bad file, so that an
    import can report every problem at once."""
    folder = Path(folder)
    if not folder.is_dir():
        return [], [InvalidExercise(str(folder), "not a folder")]
    paths = [p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES]
    for sub in folder.iterdir():
        if sub.is_dir():
            paths += [sub / f"exercise{s}" for s in SUFFIXES if (sub / f"exercise{s}").is_file()]
    exercises: list[Exercise] = []
    problems: list[InvalidExercise] = []
    seen: dict[str, Path] = {}
    for path in sorted(paths):
        try:
            exercise = load_exercise(path)
        except InvalidExercise as exc:
            problems.append(exc)
            continue
        if exercise.id in seen:
            reason = f"exercise id {exercise.id!r} is already used by {seen[exercise.id]}"
            problems.append(InvalidExercise(str(path), reason))
            continue
        seen[exercise.id] = path
        exercises.append(exercise)
    return exercises, problems


def _read(path: Path, source: str) -> str:
    try:
        return read_text(path)
    except OSError as exc:
        raise InvalidExercise(source, f"cannot read the file: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidExercise(source, str(exc)) from None


def read_text(path: Path) -> str:
    """A file's UTF-8 text, at most MAX_FILE_BYTES. Raises OSError or ValueError."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start})") from None


def _line(lines: dict[KeyPath, int], key: KeyPath) -> int | None:
    while True:
        if key in lines:
            return lines[key]
        if not key:
            return None
        key = key[:-1]


def toml_lines(text: str) -> dict[KeyPath, int]:
    """Where keys and tables start, by scanning lines: enough for error messages, not a parser
    (keys inside inline tables or arrays of inline tables map to their parent's line)."""
    found: dict[KeyPath, int] = {}
    counts: dict[KeyPath, int] = {}
    table: KeyPath = ()
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _TOML_HEADER.match(line)
        key = _TOML_KEY.match(line)
        if header is not None:
            name: KeyPath = tuple(part.strip().strip("\"'") for part in header.group(2).split("."))
            if header.group(1) == "[[":
                index = counts.get(name, 0)
                counts[name] = index + 1
                name = (*name, index)
            table = name
            found.setdefault(table, number)
        elif key is not None:
            raw = key.group(1)
            parts = (raw[1:-1],) if raw[0] in "\"'" else tuple(raw.split("."))
            found.setdefault((*table, *parts), number)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_string = quote
                break
    return found


def _yaml(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    try:
        # Aliases are refused: a few lines of them can stand for an exponential structure.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark else None
                raise InvalidExercise(source, "YAML aliases (*name) are not supported", line)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise InvalidExercise(source, f"YAML: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise InvalidExercise(source, f"YAML: {exc}") from None
    found: dict[KeyPath, int] = {}
    if node is not None:
        _walk_yaml(node, (), found)
    return data, found


def _walk_yaml(node: yaml.Node, path: KeyPath, found: dict[KeyPath, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            found.setdefault(child, key.start_mark.line + 1)
            _walk_yaml(value, child, found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.setdefault((*path, index), item.start_mark.line + 1)
            _walk_yaml(item, (*path, index), found)
