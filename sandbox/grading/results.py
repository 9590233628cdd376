"""A grade in the shape of Gradescope's ``results.json``, and what a student may see of it.

Shape (Gradescope's fields; ours under ``extra_data``)::

    {"score", "max_score", "output", "execution_time",
     "tests": [{"name", "score", "max_score", "status": "passed"|"failed", "output",
                "visibility": "visible"|"hidden"|"after_due_date"}],
     "extra_data": {"exercise", "attempt", "submitted_at", "graded_at",
                    "rubric": {part: {"weight", "fraction", "points"}}, "penalties": [...],
                    "before_due": {"score", "max_score", "output"},
                    "tampering": bool}}          (a test had two results: staff only)

The stored results keep everything (instructors see all). :func:`filter_for_student` applies
visibility. Gradescope hides ``after_due_date`` tests from students until the due date and
never shows ``hidden`` ones; here ``hidden`` means the student sees the test's name, score and
status but not its output (no input, expected or actual text), and ``after_due`` tests are
removed entirely before the due date. Before the due date the student's score and max_score are
those over the other tests (``extra_data.before_due``, computed when grading), so the points of
unseen tests are neither shown nor leaked by the total; the rubric breakdown is withheld too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.grading.definitions import Exercise, Visibility
from sandbox.grading.penalties import Applied
from sandbox.output import storable

GRADESCOPE_VISIBILITY = {
    Visibility.VISIBLE: "visible",
    Visibility.HIDDEN: "hidden",
    Visibility.AFTER_DUE: "after_due_date",
}


@dataclass(frozen=True)
class GradedTest:
    name: str
    score: float
    max_score: float
    passed: bool
    output: str
    visibility: Visibility
    tampered: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": "passed" if self.passed else "failed",
            "output": storable(self.output),  # a program's text: it may hold NUL or "\ud800"
            "visibility": GRADESCOPE_VISIBILITY[self.visibility],
        }
        if self.tampered:
            data["tampered"] = True
        return data


@dataclass(frozen=True)
class RubricPart:
    weight: float
    fraction: float
    points: float
    note: str = ""


@dataclass(frozen=True)
class GradeResult:
    exercise_id: str
    score: float
    max_score: float
    output: str
    tests: tuple[GradedTest, ...]
    rubric: dict[str, RubricPart]
    penalties: tuple[Applied, ...]
    attempt: int
    submitted_at: datetime
    graded_at: datetime
    execution_time: float = 0.0
    before_due: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(test.passed for test in self.tests)

    @property
    def tampering(self) -> bool:
        """A test of this submission had two results or a forged frame (see valuetests.py)."""
        return any(test.tampered for test in self.tests)

    def to_results_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "output": storable(self.output),
            "execution_time": self.execution_time,
            "tests": [test.to_dict() for test in self.tests],
            "extra_data": {
                "exercise": self.exercise_id,
                "attempt": self.attempt,
                "submitted_at": self.submitted_at.isoformat(),
                "graded_at": self.graded_at.isoformat(),
                "rubric": {
                    name: {"weight": p.weight, "fraction": p.fraction, "points": p.points}
                    | ({"note": storable(p.note)} if p.note else {})
                    for name, p in self.rubric.items()
                },
                "penalties": [item.to_dict() for item in self.penalties],
                "before_due": dict(self.before_due),
                "tampering": self.tampering,
            },
        }


def filter_for_student(
    results: dict[str, Any], exercise: Exercise, now: datetime
) -> dict[str, Any]:
    """What a student may see of stored ``results`` at time ``now`` (see the module notes).
    The input is not modified."""
    shown = copy.deepcopy(results)
    due_passed = exercise.due is None or now >= exercise.due
    tests = []
    withheld = False
    for test in shown.get("tests", []):
        test.pop("tampered", None)  # staff see it; the student sees a zero
        visibility = test.get("visibility")
        if visibility == "after_due_date" and not due_passed:
            withheld = True
            continue
        if visibility == "hidden":
            test.pop("output", None)
        tests.append(test)
    shown["tests"] = tests
    extra = shown.setdefault("extra_data", {})
    extra.pop("tampering", None)
    before = extra.pop("before_due", None) or {}
    if withheld:
        shown["score"] = before.get("score", 0.0)
        shown["max_score"] = before.get("max_score", 0.0)
        shown["output"] = before.get("output", "")
        extra.pop("rubric", None)
    return shown
