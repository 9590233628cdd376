"""Validation of a step's ``content``, one reader per step type (see ``schema`` for the rules)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rooms.demos.model import (
    ArrayFrame,
    Choice,
    CodeContent,
    CodeFile,
    ExerciseContent,
    ExplanationContent,
    GraphFrame,
    GraphNode,
    LineRange,
    QuizContent,
    QuizKind,
    StepContent,
    StepType,
    VisualizationContent,
    VisualKind,
)

if TYPE_CHECKING:
    from rooms.demos.schema import Path, Reader

ContentReader = Callable[["Reader", Any, "Path"], StepContent]

# The diagram types Mermaid itself knows; a typo in the first word fails here, not in a browser.
MERMAID_TYPES = (
    "graph", "flowchart", "sequenceDiagram", "classDiagram", "stateDiagram", "stateDiagram-v2",
    "erDiagram", "journey", "gantt", "pie", "mindmap", "timeline", "gitGraph", "quadrantChart",
)  # fmt: skip


def content_reader(kind: StepType) -> ContentReader:
    return _READERS[kind]


def _explanation(r: Reader, raw: Any, path: Path) -> StepContent:
    data = r.table(raw, path, {"text"}, {"text"})
    return ExplanationContent(r.text(data, path, "text"))


def _code(r: Reader, raw: Any, path: Path) -> StepContent:
    data = r.table(raw, path, {"language", "files", "text"}, {"language", "files"})
    files: list[CodeFile] = []
    for i, item in enumerate(r.items(data, path, "files")):
        fpath: Path = (*path, "files", i)
        table = r.table(item, fpath, {"path", "text", "source", "highlight"}, {"path"})
        name = r.file_path(table, fpath, "path")
        text = r.source_text(table, fpath)
        count = len(text.splitlines())
        ranges = [
            _range(r, v, (*fpath, "highlight", j), count)
            for j, v in enumerate(r.items(table, fpath, "highlight"))
        ]
        files.append(CodeFile(name, text, tuple(ranges)))
    if not files:
        r.fail((*path, "files"), "a code step needs at least one file")
    if len({f.path for f in files}) != len(files):
        r.fail((*path, "files"), "two files with the same path")
    return CodeContent(
        r.slug(data, path, "language"), tuple(files), r.text(data, path, "text", "", empty=True)
    )


def _range(r: Reader, value: Any, path: Path, count: int) -> LineRange:
    """``7``, ``"3-5"`` or ``[3, 5]``: 1-based inclusive lines of the file."""
    start: Any
    end: Any
    if isinstance(value, str) and value.count("-") == 1 and value.replace("-", "").isdigit():
        start, end = (int(part) for part in value.split("-"))
    elif isinstance(value, list) and len(value) == 2:
        start, end = value
    else:
        start = end = value
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (start, end)):
        r.fail(path, f"{value!r} is not a line (7), a range ('3-5') or a pair ([3, 5])")
    if not 1 <= start <= end <= count:
        r.fail(
            path, f"line range {start}-{end} is outside the file ({count} line{'s' * (count != 1)})"
        )
    return LineRange(start, end)


def _visualization(r: Reader, raw: Any, path: Path) -> StepContent:
    data = r.table(raw, path, {"kind", "frames", "mermaid", "text"}, {"kind"})
    kind = r.choice(data, path, "kind", VisualKind)
    text = r.text(data, path, "text", "", empty=True)
    if kind is VisualKind.MERMAID:
        if "frames" in data:
            r.fail((*path, "frames"), "a mermaid visualization has a diagram, not frames")
        diagram = r.text(data, path, "mermaid")
        first = diagram.split(maxsplit=1)[0]
        if first not in MERMAID_TYPES:
            r.fail(
                (*path, "mermaid"),
                f"unknown diagram type {first!r}; expected one of {', '.join(MERMAID_TYPES)}",
            )
        return VisualizationContent(kind, mermaid=diagram, text=text)
    if "mermaid" in data:
        r.fail(
            (*path, "mermaid"), f"a visualization of kind {kind.value!r} has frames, not a diagram"
        )
    raw_frames = r.items(data, path, "frames", required=True)
    if not raw_frames:
        r.fail((*path, "frames"), "needs at least one frame")
    frames: list[ArrayFrame | GraphFrame] = []
    for i, item in enumerate(raw_frames):
        fpath: Path = (*path, "frames", i)
        frames.append(
            _array_frame(r, item, fpath)
            if kind is VisualKind.ARRAY
            else _graph_frame(r, item, fpath, kind)
        )
    return VisualizationContent(kind, frames=tuple(frames), text=text)


def _array_frame(r: Reader, raw: Any, path: Path) -> ArrayFrame:
    data = r.table(raw, path, {"values", "highlight", "note"}, {"values"})
    values = r.items(data, path, "values")
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            r.fail((*path, "values", i), "expected a number or a string")
    marks = [
        r.integer(v, (*path, "highlight", i))
        for i, v in enumerate(r.items(data, path, "highlight"))
    ]
    for i, mark in enumerate(marks):
        if not 0 <= mark < len(values):
            r.fail(
                (*path, "highlight", i), f"index {mark} is outside the array (0..{len(values) - 1})"
            )
    return ArrayFrame(tuple(values), tuple(marks), r.text(data, path, "note", "", empty=True))


def _graph_frame(r: Reader, raw: Any, path: Path, kind: VisualKind) -> GraphFrame:
    data = r.table(raw, path, {"nodes", "edges", "highlight", "note"}, {"nodes"})
    nodes: list[GraphNode] = []
    for i, item in enumerate(r.items(data, path, "nodes")):
        if isinstance(item, str | int) and not isinstance(item, bool):
            nodes.append(GraphNode(str(item), str(item)))
            continue
        npath: Path = (*path, "nodes", i)
        table = r.table(item, npath, {"id", "label"}, {"id"})
        ident = r.text(table, npath, "id")
        nodes.append(GraphNode(ident, r.text(table, npath, "label", ident)))
    ids = [n.id for n in nodes]
    if not ids or len(set(ids)) != len(ids):
        r.fail((*path, "nodes"), "needs at least one node, each id once")
    edges: list[tuple[str, str]] = []
    for i, edge in enumerate(r.items(data, path, "edges")):
        if not (isinstance(edge, list) and len(edge) == 2 and all(str(e) in ids for e in edge)):
            r.fail((*path, "edges", i), f"{edge!r} is not a pair of node ids")
        edges.append((str(edge[0]), str(edge[1])))
    if kind is VisualKind.TREE:
        _require_tree(r, ids, edges, path)
    marks = r.items(data, path, "highlight")
    for i, mark in enumerate(marks):
        if str(mark) not in ids:
            r.fail((*path, "highlight", i), f"{mark!r} is not a node id")
    return GraphFrame(
        tuple(nodes),
        tuple(edges),
        tuple(str(m) for m in marks),
        r.text(data, path, "note", "", empty=True),
    )


def _require_tree(r: Reader, ids: list[str], edges: list[tuple[str, str]], path: Path) -> None:
    children: dict[str, list[str]] = {i: [] for i in ids}
    parents: dict[str, str] = {}
    for parent, child in edges:
        if child in parents:
            r.fail((*path, "edges"), f"node {child!r} has two parents; a tree has one")
        parents[child] = parent
        children[parent].append(child)
    roots = [i for i in ids if i not in parents]
    reached: set[str] = set()
    todo = roots[:1]
    while todo:
        node = todo.pop()
        reached.add(node)
        todo.extend(c for c in children[node] if c not in reached)
    if len(roots) != 1 or len(reached) != len(ids):
        r.fail(
            (*path, "edges"), "the edges do not form one tree (one root, every node reached once)"
        )


def _interaction(r: Reader, raw: Any, path: Path) -> StepContent:
    keys = {"kind", "question", "choices", "accept", "points", "window", "text"}
    data = r.table(raw, path, keys, {"kind", "question"})
    kind = r.choice(data, path, "kind", QuizKind)
    choices: list[Choice] = []
    for i, item in enumerate(r.items(data, path, "choices")):
        cpath: Path = (*path, "choices", i)
        table = r.table(item, cpath, {"text", "correct"}, {"text"})
        choices.append(
            Choice(
                r.text(table, cpath, "text"),
                r.boolean(table.get("correct", False), (*cpath, "correct")),
            )
        )
    accept = r.strings(data, path, "accept")
    right = sum(c.correct for c in choices)
    if kind is QuizKind.SHORT:
        if choices or not accept:
            r.fail(path, "a short-answer quiz has 'accept' (the right answers) and no 'choices'")
    elif accept or len(choices) < 2:
        r.fail(path, f"a {kind.value}-choice quiz has at least two 'choices' and no 'accept'")
    elif kind is QuizKind.SINGLE and right != 1:
        r.fail(
            (*path, "choices"), f"a single-choice quiz has exactly one correct choice, not {right}"
        )
    elif kind is QuizKind.MULTIPLE and right < 1:
        r.fail((*path, "choices"), "a multiple-choice quiz has at least one correct choice")
    points = r.integer(data.get("points", 100), (*path, "points"))
    if points < 0:
        r.fail((*path, "points"), "must not be negative")
    return QuizContent(
        kind=kind,
        question=r.text(data, path, "question"),
        choices=tuple(choices),
        accept=accept,
        points=points,
        window=r.number(data.get("window", 60), (*path, "window")),
        text=r.text(data, path, "text", "", empty=True),
    )


def _exercise(r: Reader, raw: Any, path: Path) -> StepContent:
    data = r.table(raw, path, {"exercise", "text"}, {"exercise"})
    return ExerciseContent(
        r.slug(data, path, "exercise"), r.text(data, path, "text", "", empty=True)
    )


_READERS: dict[StepType, ContentReader] = {
    StepType.EXPLANATION: _explanation,
    StepType.CODE: _code,
    StepType.VISUALIZATION: _visualization,
    StepType.INTERACTION: _interaction,
    StepType.EXERCISE: _exercise,
}
