"""The data of a demo: a definition is a tree of frozen dataclasses, built only by ``schema``.

``to_dict`` gives the authoring shape back (code inlined, highlights as ``[start, end]``), so
the stored JSON of a definition re-validates through the same schema that read the file.
``public_dict`` is what students may see: a quiz without its right answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from sandbox.model import RunRequest, RunResult, RunStatus


class StepType(StrEnum):
    EXPLANATION = "explanation"
    CODE = "code"
    VISUALIZATION = "visualization"
    INTERACTION = "interaction"
    EXERCISE = "exercise"


class Difficulty(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"
    EXPERT = "expert"


class QuizKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    SHORT = "short"


class VisualKind(StrEnum):
    ARRAY = "array"
    TREE = "tree"
    GRAPH = "graph"
    MERMAID = "mermaid"


@dataclass(frozen=True)
class LineRange:
    """Lines ``start``..``end`` of a file, 1-based and inclusive."""

    start: int
    end: int


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str


@dataclass(frozen=True)
class CodeFile:
    path: str
    text: str
    highlight: tuple[LineRange, ...] = ()


@dataclass(frozen=True)
class ExplanationContent:
    text: str


@dataclass(frozen=True)
class CodeContent:
    """Files shown in the room's ``demo`` document; the first one is the one on screen."""

    language: str
    files: tuple[CodeFile, ...]
    text: str = ""


@dataclass(frozen=True)
class ArrayFrame:
    values: tuple[str | int | float, ...]
    highlight: tuple[int, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class GraphNode:
    id: str
    label: str


@dataclass(frozen=True)
class GraphFrame:
    """Nodes and directed edges; a tree is a graph whose edges go parent → child."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str], ...] = ()
    highlight: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class VisualizationContent:
    kind: VisualKind
    frames: tuple[ArrayFrame | GraphFrame, ...] = ()
    mermaid: str = ""
    text: str = ""


@dataclass(frozen=True)
class Choice:
    text: str
    correct: bool = False


@dataclass(frozen=True)
class QuizContent:
    """A quiz. ``points`` is the base score; ``window`` (seconds) is the speed window."""

    kind: QuizKind
    question: str
    choices: tuple[Choice, ...] = ()
    accept: tuple[str, ...] = ()
    points: int = 100
    window: float = 60.0
    text: str = ""

    @property
    def right_answer(self) -> int | list[int] | list[str]:
        """The answer revealed on close, in the shape students send."""
        if self.kind is QuizKind.SHORT:
            return list(self.accept)
        right = [i for i, choice in enumerate(self.choices) if choice.correct]
        return right[0] if self.kind is QuizKind.SINGLE else right


@dataclass(frozen=True)
class ExerciseContent:
    exercise: str
    text: str = ""


StepContent = (
    ExplanationContent | CodeContent | VisualizationContent | QuizContent | ExerciseContent
)


@dataclass(frozen=True)
class Timing:
    """``duration`` and ``pause_points`` are seconds from the moment the step is shown."""

    auto_advance: bool = False
    duration: float | None = None
    pause_points: tuple[float, ...] = ()


def _normalised_stdout(text: str) -> str:
    # Trailing spaces and a missing final newline are invisible in a terminal; do not fail on them.
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


@dataclass(frozen=True)
class Check:
    """A run that proves a student did the step: ``files`` given here, or the student's own
    document ``student_file``, run with ``stdin``; passes when stdout is ``expected_stdout``."""

    language: str
    expected_stdout: str
    files: tuple[SourceFile, ...] = ()
    student_file: str | None = None
    stdin: str = ""

    def request(self, student_text: str | None = None) -> RunRequest:
        """The run to start. ``student_text`` is required when the check uses the student's doc."""
        files = {f.path: f.text for f in self.files}
        if self.student_file is not None:
            if student_text is None:
                raise ValueError(
                    f"this check runs the student's {self.student_file}; pass its text"
                )
            files = {self.student_file: student_text, **files}
        return RunRequest(language=self.language, files=files, stdin=self.stdin)

    def passes(self, result: RunResult) -> bool:
        return result.status is RunStatus.OK and _normalised_stdout(
            result.stdout
        ) == _normalised_stdout(self.expected_stdout)


@dataclass(frozen=True)
class DemoStep:
    id: str
    type: StepType
    title: str
    content: StepContent
    timing: Timing = field(default_factory=Timing)
    validation: Check | None = None

    def to_dict(self) -> dict[str, Any]:
        data = _plain_dict(asdict(self))
        data["content"] = _content_dict(self.content)
        if self.validation is not None and not self.validation.files:
            del data["validation"]["files"]
        return data

    def public_dict(self) -> dict[str, Any]:
        """The step as students see it: quiz choices without ``correct``, no ``accept`` list."""
        data = self.to_dict()
        if isinstance(self.content, QuizContent):
            data["content"]["choices"] = [{"text": c.text} for c in self.content.choices]
            del data["content"]["accept"]
        if self.validation is not None:
            data["validation"] = {"student_file": self.validation.student_file}
        return data


@dataclass(frozen=True)
class Metadata:
    tags: tuple[str, ...] = ()
    prerequisites: tuple[str, ...] = ()
    learning_objectives: tuple[str, ...] = ()
    author: str = ""
    version: str = ""


@dataclass(frozen=True)
class DemoDefinition:
    id: str
    title: str
    description: str
    difficulty: Difficulty
    estimated_minutes: float
    steps: tuple[DemoStep, ...]
    metadata: Metadata = field(default_factory=Metadata)

    def to_dict(self) -> dict[str, Any]:
        data = _plain_dict(asdict(self))
        data["steps"] = [step.to_dict() for step in self.steps]
        return data

    def exercise_ids(self) -> list[str]:
        """Exercises the demo points at, for the importer to check they exist."""
        return [s.content.exercise for s in self.steps if isinstance(s.content, ExerciseContent)]


def _content_dict(content: StepContent) -> dict[str, Any]:
    data = _plain_dict(asdict(content))
    if isinstance(content, CodeContent):
        for file in data["files"]:
            file["highlight"] = [[r["start"], r["end"]] for r in file["highlight"]]
    if isinstance(content, VisualizationContent):
        del data["mermaid" if content.frames else "frames"]
    return data


def _plain_dict(value: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = _plain(value)
    return plain


def _plain(value: Any) -> Any:
    """Tuples to lists, enums to their values, no None: the JSON the schema reads back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value
