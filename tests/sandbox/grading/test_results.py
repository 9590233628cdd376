from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.grading.definitions import Exercise, Visibility
from sandbox.grading.penalties import Applied
from sandbox.grading.results import GradedTest, GradeResult, RubricPart, filter_for_student
from sandbox.grading.schema import exercise_from_dict

DUE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def exercise(due: datetime = DUE) -> Exercise:
    data: dict[str, Any] = {
        "id": "e",
        "title": "E",
        "language": "python",
        "tests": [
            {"name": "seen", "expected": "1"},
            {"name": "secret", "expected": "1", "visibility": "hidden"},
            {"name": "later", "expected": "1", "visibility": "after_due"},
        ],
    }
    data["due"] = due.isoformat()
    return exercise_from_dict(data)


def results() -> dict[str, Any]:
    tests = (
        GradedTest("seen", 1.0, 1.0, True, "passed", Visibility.VISIBLE),
        GradedTest("secret", 0.0, 1.0, False, "expected 'x' got 'y'", Visibility.HIDDEN),
        GradedTest("later", 1.0, 1.0, True, "passed", Visibility.AFTER_DUE),
    )
    grade = GradeResult(
        exercise_id="e",
        score=1.8,
        max_score=3.0,
        output="2 of 3 tests passed.",
        tests=tests,
        rubric={"correctness": RubricPart(1.0, 2 / 3, 2.0)},
        penalties=(Applied("attempt", 10.0, "attempt 2"),),
        attempt=2,
        submitted_at=DUE - timedelta(days=1),
        graded_at=DUE - timedelta(days=1, seconds=-3),
        execution_time=0.123,
        before_due={"score": 0.9, "max_score": 2.0, "output": "1 of 2 tests passed."},
    )
    return grade.to_results_json()


def test_results_json_has_gradescope_shape() -> None:
    data = results()
    assert json.loads(json.dumps(data)) == data
    assert (data["score"], data["max_score"], data["execution_time"]) == (1.8, 3.0, 0.123)
    assert data["tests"][1] == {
        "name": "secret",
        "score": 0.0,
        "max_score": 1.0,
        "status": "failed",
        "output": "expected 'x' got 'y'",
        "visibility": "hidden",
    }
    assert [t["visibility"] for t in data["tests"]] == ["visible", "hidden", "after_due_date"]
    extra = data["extra_data"]
    assert extra["attempt"] == 2
    assert extra["penalties"] == [{"kind": "attempt", "percent": 10.0, "reason": "attempt 2"}]
    assert extra["rubric"]["correctness"]["points"] == 2.0
    assert extra["submitted_at"] == "2026-11-30T12:00:00+00:00"


def test_before_due_the_student_sees_neither_after_due_tests_nor_their_points() -> None:
    stored = results()
    original = copy.deepcopy(stored)
    shown = filter_for_student(stored, exercise(), DUE - timedelta(seconds=1))
    assert stored == original
    assert [t["name"] for t in shown["tests"]] == ["seen", "secret"]
    assert shown["tests"][0]["output"] == "passed"
    assert shown["tests"][1] == {
        "name": "secret",
        "score": 0.0,
        "max_score": 1.0,
        "status": "failed",
        "visibility": "hidden",
    }
    assert (shown["score"], shown["max_score"], shown["output"]) == (
        0.9,
        2.0,
        "1 of 2 tests passed.",
    )
    assert "rubric" not in shown["extra_data"] and "before_due" not in shown["extra_data"]
    assert "later" not in json.dumps(shown)


def test_after_due_everything_but_hidden_output_is_shown() -> None:
    shown = filter_for_student(results(), exercise(), DUE)
    assert [t["name"] for t in shown["tests"]] == ["seen", "secret", "later"]
    assert shown["tests"][2]["output"] == "passed"
    assert "output" not in shown["tests"][1]
    assert (shown["score"], shown["max_score"]) == (1.8, 3.0)
    assert shown["extra_data"]["rubric"]["correctness"]["points"] == 2.0
