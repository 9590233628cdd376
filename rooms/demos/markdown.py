"""Demos written as Markdown: YAML front matter for the demo, one ``##`` section per step.

Layout::

    ---
    id: recursion
    title: Recursion in five minutes
    difficulty: beginner
    estimated_minutes: 5
    ---
    Text before the first step is the description (when the front matter has none).

    ## The base case
    ```step
    id: base-case
    type: explanation
    timing: {auto_advance: true, duration: 40}
    ```
    The Markdown under the heading is the step's ``content.text``.

The heading is the step's title; the optional fenced block tagged ``step`` right under it holds
the step's other keys in YAML (``id``, ``type``, ``content``, ``timing``, ``validation``).
Headings inside code fences do not start a step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from rooms.demos.exceptions import DefinitionError
from rooms.demos.locate import compose_yaml, construct_yaml, yaml_line
from rooms.demos.schema import Locate, Path

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*(\S*)")
_STEP_HEADING = re.compile(r"^##\s+(.*?)\s*#*\s*$")


@dataclass
class _Section:
    heading: int  # 0-based line of the ## heading
    title: str
    block: yaml.Node | None = None
    block_offset: int = 0
    prose_line: int = 0


def parse_markdown(text: str, file: str) -> tuple[dict[str, Any], Locate]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise DefinitionError(
            file, 1, "a Markdown demo starts with YAML front matter between '---' lines"
        )
    close = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if close is None:
        raise DefinitionError(file, 1, "the front matter has no closing '---' line")
    front = compose_yaml("\n".join(lines[1:close]), file, 1)
    data = construct_yaml(front, file, 1)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DefinitionError(file, 2, "the front matter must be a table of keys")
    if "steps" in data:
        raise DefinitionError(
            file,
            yaml_line(front, ("steps",), 1),
            "steps: write steps as ## sections, not in the front matter",
        )

    sections, preamble = _split(lines, close + 1)
    steps = [_step(lines, section, sections, file) for section in sections]
    if preamble.strip():
        if "description" in data:
            raise DefinitionError(
                file,
                close + 2,
                "text before the first ## step and a description in the front matter; keep one",
            )
        data["description"] = preamble.strip()
    data["steps"] = steps

    def locate(path: Path) -> int:
        if not path or path[0] != "steps":
            return yaml_line(front, path, 1)
        if len(path) < 2 or not isinstance(path[1], int) or path[1] >= len(sections):
            return sections[0].heading + 1 if sections else close + 1
        section = sections[path[1]]
        rest = path[2:]
        if rest[:2] == ("content", "text") and section.prose_line:
            return section.prose_line + 1
        if not rest or rest[0] == "title" or section.block is None:
            return section.heading + 1
        return yaml_line(section.block, rest, section.block_offset)

    return data, locate


def _split(lines: list[str], first: int) -> tuple[list[_Section], str]:
    sections: list[_Section] = []
    preamble: list[str] = []
    fence = ""
    for index in range(first, len(lines)):
        line = lines[index]
        opened = _FENCE.match(line)
        if opened and (not fence or opened.group(1).startswith(fence)):
            fence = "" if fence else opened.group(1)
            continue
        heading = None if fence else _STEP_HEADING.match(line)
        if heading:
            sections.append(_Section(index, heading.group(1)))
        elif not sections:
            preamble.append(line)
    return sections, "\n".join(preamble)


def _step(
    lines: list[str], section: _Section, sections: list[_Section], file: str
) -> dict[str, Any]:
    following = [s.heading for s in sections if s.heading > section.heading]
    end = following[0] if following else len(lines)
    body = section.heading + 1
    while body < end and not lines[body].strip():
        body += 1
    step: dict[str, Any] = {}
    opened = _FENCE.match(lines[body]) if body < end else None
    if opened and opened.group(2) == "step":
        close = next((i for i in range(body + 1, end) if lines[i].strip() == opened.group(1)), None)
        if close is None:
            raise DefinitionError(file, body + 1, "the ```step block has no closing fence")
        section.block_offset = body + 1
        section.block = compose_yaml("\n".join(lines[body + 1 : close]), file, body + 1)
        block = construct_yaml(section.block, file, body + 1)
        if not isinstance(block, Mapping):
            raise DefinitionError(file, body + 2, "the step block must be a table of keys")
        step.update(block)
        body = close + 1
    if "title" in step:
        line = yaml_line(section.block, ("title",), section.block_offset)
        raise DefinitionError(
            file, line, "title: the step's title is its ## heading; remove it here"
        )
    step["title"] = section.title
    prose = "\n".join(lines[body:end]).strip()
    if prose:
        section.prose_line = next(i for i in range(body, end) if lines[i].strip())
        content = step.setdefault("content", {})
        if isinstance(content, dict):
            if "text" in content:
                line = yaml_line(section.block, ("content", "text"), section.block_offset)
                raise DefinitionError(
                    file, line, "content.text: the step's text is the Markdown under its heading"
                )
            content["text"] = prose
    return step
