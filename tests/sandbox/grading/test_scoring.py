from __future__ import annotations

from typing import Any

import pytest

from sandbox.grading.definitions import Exercise, Visibility
from sandbox.grading.lint import Finding, LintReport
from sandbox.grading.penalties import Applied
from sandbox.grading.results import GradedTest
from sandbox.grading.schema import exercise_from_dict
from sandbox.grading.scoring import performance_fraction, score


def exercise(**changes: Any) -> Exercise:
    data: dict[str, Any] = {
        "id": "e",
        "title": "E",
        "language": "python",
        "due": "2026-12-01T12:00:00Z",
        "tests": [
            {"name": "a", "expected": "1", "points": 2},
            {"name": "b", "expected": "1", "points": 1, "visibility": "hidden"},
            {"name": "c", "expected": "1", "points": 1, "visibility": "after_due"},
        ],
    }
    data.update(changes)
    return exercise_from_dict(data)


def rows(*passed: bool) -> list[GradedTest]:
    points = {"a": 2.0, "b": 1.0, "c": 1.0}
    visibility = {"a": Visibility.VISIBLE, "b": Visibility.HIDDEN, "c": Visibility.AFTER_DUE}
    return [
        GradedTest(name, points[name] if ok else 0.0, points[name], ok, "", visibility[name])
        for name, ok in zip("abc", passed, strict=True)
    ]


def finding(code: str) -> Finding:
    return Finding(code, "msg", "main.py", 1)


def test_partial_credit_by_points() -> None:
    result = score(exercise(), rows(True, False, True), [], None, [])
    assert result.score == 3.0 and result.raw == 3.0
    assert result.parts["correctness"].fraction == 0.75
    assert result.output.startswith("2 of 3 tests passed. Score 3 of 4.")


def test_unmeasured_parts_go_to_correctness() -> None:
    rubric = {"correctness": 0.5, "quality": 0.25, "style": 0.25, "total_points": 10}
    result = score(exercise(rubric=rubric), rows(True, True, False), [], None, [])
    parts = result.parts
    assert parts["correctness"].weight == 1.0 and parts["style"].weight == 0.0
    assert parts["style"].note == "not measured for this exercise: its weight went to correctness"
    assert result.score == 7.5


def test_lint_findings_cost_style_and_quality() -> None:
    rubric = {"correctness": 2, "quality": 1, "style": 1, "total_points": 8, "lint_deduction": 0.25}
    report = LintReport(style=[finding("E501")] * 2, quality=[finding("F401")] * 9)
    result = score(exercise(rubric=rubric), rows(True, True, True), [], report, [])
    assert result.parts["style"].fraction == 0.5
    assert result.parts["quality"].fraction == 0.0
    assert result.parts["correctness"].points == 4.0
    assert result.score == 5.0
    assert result.parts["quality"].note.endswith(" …")


@pytest.mark.parametrize(
    ("seconds", "fraction"), [(0.05, 1.0), (0.15, 1.0), (0.225, 0.5), (0.3, 0.0), (9.0, 0.0)]
)
def test_performance_is_linear_between_the_factors(seconds: float, fraction: float) -> None:
    ex = exercise(reference_time=0.1, rubric={"performance": 1})
    assert performance_fraction(ex, seconds) == pytest.approx(fraction)


def test_performance_uses_the_median_passing_run() -> None:
    ex = exercise(
        reference_time=0.1, rubric={"correctness": 1, "performance": 1, "total_points": 10}
    )
    result = score(ex, rows(True, True, True), [100.0, 225.0, 900.0], None, [])
    assert result.parts["performance"].fraction == 0.5
    assert result.parts["performance"].note == "median run time 225 ms; reference 100 ms"
    assert result.score == 7.5
    nothing = score(ex, rows(False, False, False), [], None, [])
    assert nothing.parts["performance"].note == "no passing run to time"
    assert nothing.score == 0.0


def test_penalties_come_off_the_total() -> None:
    applied = [Applied("late", 20.0, "1 day late"), Applied("attempt", 10.0, "attempt 2")]
    result = score(exercise(), rows(True, True, True), [], None, applied)
    assert (result.raw, result.score) == (4.0, 2.8)
    assert "Penalty: -20% (1 day late)." in result.output
    assert "Penalty: -10% (attempt 2)." in result.output


def test_style_and_speed_earn_nothing_without_correctness() -> None:
    ex = exercise(
        reference_time=0.1,
        rubric={"correctness": 1, "performance": 1, "style": 1, "quality": 1, "total_points": 8},
    )
    empty = score(ex, rows(False, False, False), [], LintReport(), [])
    assert empty.score == 0.0
    half = score(ex, rows(True, False, False), [10.0], LintReport(), [])
    assert [part.fraction for part in half.parts.values()] == [0.5, 0.5, 0.5, 0.5]
    assert half.score == 4.0


def test_before_due_leaves_out_the_after_due_tests() -> None:
    ex = exercise(rubric={"correctness": 1, "style": 1, "total_points": 10})
    result = score(ex, rows(True, False, True), [], LintReport(), [Applied("late", 50.0, "")])
    # 3 of 4 points: correctness and style both at 0.75
    assert result.raw == 7.5 and result.score == 3.75
    # without test c (1 of 4 points): 2 of 3 points, out of 7.5, halved by the penalty
    assert result.before_due["max_score"] == 7.5
    assert result.before_due["score"] == pytest.approx(2.5, abs=1e-3)
    assert str(result.before_due["output"]).startswith("1 of 2 tests passed.")
    nothing_seen = score(
        exercise(tests=[{"name": "c", "expected": "1", "visibility": "after_due"}]),
        [GradedTest("c", 1.0, 1.0, True, "", Visibility.AFTER_DUE)],
        [],
        None,
        [],
    )
    assert nothing_seen.before_due == {
        "score": 0.0,
        "max_score": 0.0,
        "output": "0 of 0 tests passed. Score 0 of 0.",
    }
    no_after_due = exercise(tests=[{"name": "a", "expected": "1"}])
    only = [GradedTest("a", 1.0, 1.0, True, "", Visibility.VISIBLE)]
    assert score(no_after_due, only, [], None, []).before_due == {}
