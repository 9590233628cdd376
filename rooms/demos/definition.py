"""Reading demo files: TOML, YAML, or Markdown with YAML front matter.

Entry points: ``load(path)`` for a file on disk (code ``source`` paths resolve next to it and may
not leave its folder), ``parse(text, file=..., fmt=...)`` for text from elsewhere, and
``from_dict(data)`` for a definition stored as JSON (``DemoDefinition.to_dict()``). Each gives a
frozen ``DemoDefinition`` or raises ``DefinitionError`` whose ``str()`` is ``file:line: reason``.

Each format brings its own way to turn a path into the data into a line: TOML by finding the
step's table header in the text (tomllib keeps no positions), YAML by walking the node tree of
``yaml.compose``. The Markdown layout is described in ``markdown``.
"""

from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from pathlib import Path as FilePath
from typing import Any

from rooms.demos.exceptions import DefinitionError
from rooms.demos.locate import TomlLocator, compose_yaml, construct_yaml, yaml_line
from rooms.demos.markdown import parse_markdown
from rooms.demos.model import DemoDefinition
from rooms.demos.schema import Path, Read, validate

MAX_FILE_BYTES = 1024 * 1024


class Format(StrEnum):
    TOML = "toml"
    YAML = "yaml"
    MARKDOWN = "markdown"


SUFFIXES = {".toml": Format.TOML, ".yaml": Format.YAML, ".yml": Format.YAML, ".md": Format.MARKDOWN}


def format_of(file: str) -> Format | None:
    """The format a file name declares, or None for a file that is not a demo."""
    return SUFFIXES.get(FilePath(file).suffix.lower())


def load(path: FilePath | str, *, display: str | None = None) -> DemoDefinition:
    """Read and validate one demo file; ``display`` is the name used in messages (default: path)."""
    path = FilePath(path)
    name = display or str(path)
    fmt = format_of(path.name)
    if fmt is None:
        raise DefinitionError(name, 1, f"not a demo file; expected one of {', '.join(SUFFIXES)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DefinitionError(name, 1, f"cannot read: {exc.strerror or exc}") from exc
    return parse(_decode(data, name), file=name, fmt=fmt, read=folder_reader(path.parent))


def folder_reader(folder: FilePath) -> Read:
    """Reads a relative path inside ``folder``; refuses anything that resolves outside it."""
    root = folder.resolve()

    def read(relative: str) -> str:
        target = (root / relative).resolve()
        if not target.is_relative_to(root):
            raise OSError(f"{relative!r} leaves the demo folder")
        data = target.read_bytes()
        if len(data) > MAX_FILE_BYTES:
            raise OSError(f"larger than {MAX_FILE_BYTES} bytes")
        return data.decode("utf-8")

    return read


def parse(text: str, *, file: str, fmt: Format, read: Read | None = None) -> DemoDefinition:
    if len(text) > MAX_FILE_BYTES:
        raise DefinitionError(file, 1, f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return _parse(text, file, fmt, read)
    except RecursionError:
        # tomllib and PyYAML recurse per nesting level; `a = [[[[…` must not take us down.
        raise DefinitionError(file, 1, "nested too deeply") from None


def _parse(text: str, file: str, fmt: Format, read: Read | None) -> DemoDefinition:
    if fmt is Format.TOML:
        return _parse_toml(text, file, read)
    if fmt is Format.YAML:
        node = compose_yaml(text, file, 0)
        return validate(
            construct_yaml(node, file, 0),
            file=file,
            locate=lambda p: yaml_line(node, p, 0),
            read=read,
        )
    data, locate = parse_markdown(text, file)
    return validate(data, file=file, locate=locate, read=read)


def from_dict(data: dict[str, Any], *, name: str = "<stored>") -> DemoDefinition:
    """A definition stored as JSON; lines are meaningless there, so every error says line 1."""
    return validate(data, file=name, locate=lambda _: 1)


def _decode(data: bytes, name: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise DefinitionError(name, 1, f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DefinitionError(name, line, "not UTF-8 text") from exc


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$|\s*\(at end of document\)$")


def _parse_toml(text: str, file: str, read: Read | None) -> DemoDefinition:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        line = int(found.group(1)) if found and found.group(1) else text.count("\n") + 1
        reason = message[: found.start()] if found else message
        raise DefinitionError(file, line, f"invalid TOML: {reason}") from exc
    locator = TomlLocator(text)
    return validate(data, file=file, locate=locator.line, read=read)


__all__ = ["Format", "Path", "format_of", "from_dict", "load", "parse"]
