"""From a path into a demo's data to a line of its file, per format.

tomllib keeps no positions, so ``TomlLocator`` finds the table headers (``[[steps]]``,
``[steps.content]``, ``[[steps.content.files]]``) and ``key =`` lines in the text: the n-th
``[[steps]]`` header is step n. A path it cannot follow further (a value written inline)
gives the line of the deepest part it found. YAML keeps positions on its nodes
(``yaml.compose``), so ``yaml_line`` walks the node tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from rooms.demos.exceptions import DefinitionError

Path = tuple[str | int, ...]

MAX_YAML_NODES = 100_000
MAX_FLOW_DEPTH = 200
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]#=]+?)\s*\]\]?\s*(?:#.*)?$")


@dataclass(frozen=True)
class _Header:
    index: int  # 0-based line
    name: str
    array: bool


class TomlLocator:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[_Header] = []
        in_string = False
        for index, line in enumerate(self.lines):
            found = None if in_string else _HEADER.match(line)
            if found:
                name = ".".join(p.strip().strip("\"'") for p in found.group(2).split("."))
                self.headers.append(_Header(index, name, found.group(1) == "[["))
            # A header-looking line inside a multi-line string is text, not a table.
            if (line.count('"""') + line.count("'''")) % 2:
                in_string = not in_string

    def line(self, path: Path) -> int:
        start, end, prefix, best = -1, len(self.lines), "", 1
        i = 0
        while i < len(path) and isinstance(path[i], str):
            name = f"{prefix}.{path[i]}" if prefix else str(path[i])
            inside = [h for h in self.headers if start < h.index < end]
            following = path[i + 1] if i + 1 < len(path) else None
            arrays = [h for h in inside if h.name == name and h.array]
            tables = [h for h in inside if h.name == name and not h.array]
            if arrays and isinstance(following, int):
                if following >= len(arrays):
                    break
                found = arrays[following]
                i += 2
            elif tables:
                found = tables[0]
                i += 1
            else:
                key = self._key_line(str(path[i]), start, end)
                return key if key is not None else best
            start, prefix, best = found.index, name, found.index + 1
            end = next(
                (h.index for h in inside if h.index > start and not h.name.startswith(name + ".")),
                end,
            )
        return best

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        # Only the table's own lines, up to its first sub-table header.
        stop = next((h.index for h in self.headers if start < h.index < end), end)
        pattern = re.compile(rf"^\s*([\"']?){re.escape(key)}\1\s*[=.]")
        for index in range(start + 1, stop):
            if pattern.match(self.lines[index]):
                return index + 1
        return None


def compose_yaml(text: str, file: str, offset: int) -> yaml.Node | None:
    """The YAML node tree (positions kept), or DefinitionError at the line of the syntax error.
    ``offset`` is the number of file lines before ``text`` (front matter, a step block)."""
    _refuse_deep_flow(text, file, offset)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = offset + (mark.line + 1 if mark else 1)
        raise DefinitionError(file, line, f"invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise DefinitionError(file, offset + 1, f"invalid YAML: {exc}") from exc
    if node is not None and _expanded_size(node, {}) > MAX_YAML_NODES:
        reason = f"more than {MAX_YAML_NODES} values once aliases are expanded"
        raise DefinitionError(file, offset + 1, reason)
    return node


def _refuse_deep_flow(text: str, file: str, offset: int) -> None:
    # PyYAML slows down with the square of the flow nesting ([[[[…) before it fails, so a
    # small hostile file would stall an import for minutes; no demo nests like this.
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
        if depth > MAX_FLOW_DEPTH:
            raise DefinitionError(file, offset + number, "nested too deeply")


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    # Aliases share nodes, so a small file can stand for an enormous document ("billion
    # laughs"); count each value as many times as it will be walked, memoised per node.
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_YAML_NODES + 1  # a node inside itself (a recursive alias) is too big
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    total = min(total, MAX_YAML_NODES + 1)
    sizes[id(node)] = total
    return total


def construct_yaml(node: yaml.Node | None, file: str, offset: int) -> Any:
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = offset + (mark.line + 1 if mark else 1)
        raise DefinitionError(file, line, f"invalid YAML: {exc.problem or exc.context}") from exc
    finally:
        loader.dispose()


def yaml_line(node: yaml.Node | None, path: Path, offset: int) -> int:
    """The line of the deepest node along ``path``; a mapping key's own line when it is last."""
    if node is None:
        return offset + 1
    best = node.start_mark.line
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    child = key if last else value
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node, best = child, child.start_mark.line
    return offset + best + 1
