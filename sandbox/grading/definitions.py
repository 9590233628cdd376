"""What an exercise is: frozen dataclasses, and their canonical JSON-able dict form.

The dict form is also the file schema (see ``examples/course/exercises/README.md``): a TOML or
YAML exercise file is read into a dict by :mod:`sandbox.grading.loading`, then checked here by
:func:`exercise_from_dict`; :meth:`Exercise.to_dict` gives back a dict that the same function
accepts, which is how the server stores exercises in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Visibility(StrEnum):
    """Who sees a test. ``hidden``: name, score and status only. ``after_due``: nothing until
    the due date (Gradescope's ``after_due_date``)."""

    VISIBLE = "visible"
    HIDDEN = "hidden"
    AFTER_DUE = "after_due"


class CompareMode(StrEnum):
    EXACT = "exact"
    TRIM = "trim"
    REGEX = "regex"
    NUMERIC = "numeric"


@dataclass(frozen=True)
class Comparison:
    mode: CompareMode = CompareMode.TRIM
    abs_tol: float = 0.0
    rel_tol: float = 0.0


@dataclass(frozen=True)
class IOTest:
    """Run the submission with ``stdin`` and ``args``; compare stdout with ``expected``."""

    name: str
    expected: str
    points: float = 1.0
    visibility: Visibility = Visibility.VISIBLE
    stdin: str = ""
    args: tuple[str, ...] = ()
    compare: Comparison = field(default_factory=Comparison)
    hints: tuple[str, ...] = ()
    explanation: str = ""


@dataclass(frozen=True)
class UnitCase:
    name: str
    points: float


@dataclass(frozen=True)
class UnitTest:
    """A unit-test file placed next to the submission; each case in it is scored on its own.

    ``cases`` are discovered in ``source`` when the exercise is loaded, so the maximum score
    never depends on how far a crashing submission got.
    """

    name: str
    file: str
    source: str
    cases: tuple[UnitCase, ...]
    visibility: Visibility = Visibility.VISIBLE
    forgeable_hidden: bool = False
    """An assert-style verdict is reached inside the student's process, so the student's code
    can forge it: a hidden one exists only when the exercise says so with this flag."""
    hints: tuple[str, ...] = ()
    explanation: str = ""


@dataclass(frozen=True)
class ValueTest:
    """Call ``function`` with ``args``; the harness reports the returned value, type-tagged
    (:mod:`sandbox.grading.values`), and the server compares it with ``expected``, which never
    enters the sandbox. ``file``: where the function is (default: the exercise's entry)."""

    name: str
    function: str
    args: tuple[Any, ...]
    expected: Any
    points: float = 1.0
    visibility: Visibility = Visibility.VISIBLE
    file: str | None = None
    abs_tol: float = 0.0
    rel_tol: float = 0.0
    hints: tuple[str, ...] = ()
    explanation: str = ""


Test = IOTest | UnitTest | ValueTest


@dataclass(frozen=True)
class Rubric:
    """Weights of the four parts of a grade; they are normalised, so they need not sum to 1.

    Performance: full marks when the run time is within ``reference_time * performance_factor``,
    falling linearly to zero at ``reference_time * performance_zero_factor``. Quality and style
    lose ``lint_deduction`` per linter finding. A part that cannot be measured (no reference
    time; no linter for the language) gives its weight to correctness.
    """

    correctness: float = 1.0
    performance: float = 0.0
    quality: float = 0.0
    style: float = 0.0
    total_points: float | None = None
    performance_factor: float = 1.5
    performance_zero_factor: float = 3.0
    lint_deduction: float = 0.1


class LateMode(StrEnum):
    PER_DAY = "per_day"
    FLAT = "flat"


@dataclass(frozen=True)
class LatePenalty:
    """``per_day``: ``percent`` per started day after the due date; ``flat``: ``percent`` once.
    Never more than ``max_percent`` in all."""

    mode: LateMode
    percent: float
    max_percent: float = 100.0


@dataclass(frozen=True)
class Penalties:
    """``attempts`` is CodeRunner's regime: attempt n loses ``attempts[n-1]`` percent, the last
    value repeating (``(0, 10, 20)``: free first try, then 10 %, then 20 % for every later one)."""

    late: LatePenalty | None = None
    attempts: tuple[float, ...] = ()


@dataclass(frozen=True)
class SimilarityPolicy:
    """The plagiarism penalty: ``penalty`` percent off a grade, applied only when an
    instructor confirms a pair whose similarity is at least ``threshold`` (server/integrity).
    ``reference`` is the instructor's solution (file name -> text), excluded from matching
    like the starter code."""

    threshold: float = 0.5
    penalty: float = 0.0
    reference: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RateLimit:
    count: int
    window_seconds: float


@dataclass(frozen=True)
class Thresholds:
    """When help comes (the instructor's cockpit). A test's hints unlock one per
    ``hint_after`` failed attempts of that test; a student may also buy the next one for
    ``hint_cost`` XP. A cell is *stuck* after ``stuck_attempts`` failed attempts, or
    ``stuck_minutes`` without a change while not passed."""

    hint_after: int = 2
    hint_cost: int = 5
    stuck_attempts: int = 3
    stuck_minutes: float = 10.0


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    language: str
    tests: tuple[Test, ...]
    prompt: str = ""
    starter: dict[str, str] = field(default_factory=dict)
    rubric: Rubric = field(default_factory=Rubric)
    penalties: Penalties = field(default_factory=Penalties)
    due: datetime | None = None
    time_limit: float | None = None
    reference_time: float | None = None
    rate_limit: RateLimit | None = None
    similarity: SimilarityPolicy = field(default_factory=SimilarityPolicy)
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def test_points(self) -> float:
        return sum(points_of(test) for test in self.tests)

    @property
    def max_score(self) -> float:
        total = self.rubric.total_points
        return total if total is not None else self.test_points

    @property
    def warnings(self) -> list[str]:
        """What an instructor should know when importing this exercise."""
        return [
            f"{self.id}: test {test.name!r} is hidden but assert-style: its verdict is decided "
            "in the student's process and can be forged (forgeable_hidden = true); value or "
            "I/O tests are decided on the server"
            for test in self.tests
            if isinstance(test, UnitTest) and test.visibility is not Visibility.VISIBLE
        ]

    @property
    def entry(self) -> str | None:
        """The file run first: the first starter file, if the exercise has any."""
        return next(iter(self.starter), None)


def points_of(test: Test) -> float:
    if isinstance(test, IOTest | ValueTest):
        return test.points
    return sum(case.points for case in test.cases)
