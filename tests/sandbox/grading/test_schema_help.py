"""The cockpit's exercise-file fields: per-test ``hints`` and ``explanation``, and the
exercise's ``thresholds``; parsed, refused with the key named, and kept by ``to_dict``."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.grading.definitions import Thresholds
from sandbox.grading.dump import exercise_to_dict
from sandbox.grading.exceptions import InvalidExercise
from sandbox.grading.schema import exercise_from_dict


def exercise(test: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    base = {"name": "adds", "stdin": "1 2\n", "expected": "3"}
    base.update(test or {})
    data = {"id": "add", "title": "Add", "language": "python", "tests": [base]}
    data.update(top)
    return data


def test_hints_explanation_and_thresholds_parse_and_round_trip() -> None:
    data = exercise(
        {"hints": ["Read both numbers.", "int() turns text into a number."], "explanation": "a+b"},
        thresholds={"hint_after": 1, "hint_cost": 0, "stuck_attempts": 4, "stuck_minutes": 2.5},
    )
    parsed = exercise_from_dict(data)
    test = parsed.tests[0]
    assert test.hints == ("Read both numbers.", "int() turns text into a number.")
    assert test.explanation == "a+b"
    assert parsed.thresholds == Thresholds(
        hint_after=1, hint_cost=0, stuck_attempts=4, stuck_minutes=2.5
    )
    again = exercise_from_dict(exercise_to_dict(parsed))
    assert again == parsed


def test_defaults_and_unit_tests_take_hints_too() -> None:
    plain = exercise_from_dict(exercise())
    assert plain.tests[0].hints == () and plain.tests[0].explanation == ""
    assert plain.thresholds == Thresholds()
    stored = exercise_to_dict(plain)
    assert "thresholds" not in stored and "hints" not in stored["tests"][0]
    source = "def test_one():\n    assert True\n"
    unit_test = {"kind": "unit", "name": "u", "file": "test_add.py", "source": source}
    unit = exercise_from_dict(exercise() | {"tests": [unit_test | {"hints": ["look at test_one"]}]})
    assert unit.tests[0].hints == ("look at test_one",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (exercise({"hints": "one"}), "tests[0].hints: expected an array of at most 10"),
        (exercise({"hints": ["ok", ""]}), "tests[0].hints: expected an array"),
        (exercise({"hints": ["x"] * 11}), "tests[0].hints: expected an array of at most 10"),
        (exercise({"explanation": 3}), "tests[0].explanation: expected a string"),
        (exercise({"explanation": "x" * 4001}), "tests[0].explanation: must be at most 4000"),
        (
            exercise(thresholds={"hint_after": 0}),
            "thresholds.hint_after: expected a whole number >= 1",
        ),
        (
            exercise(thresholds={"hint_cost": -1}),
            "thresholds.hint_cost: expected a whole number >= 0",
        ),
        (exercise(thresholds={"stuck_attempts": 1.5}), "thresholds.stuck_attempts"),
        (exercise(thresholds={"stuck_minutes": 0}), "thresholds.stuck_minutes: must be a finite"),
        (exercise(thresholds={"stuk_minutes": 3}), "thresholds.stuk_minutes: unknown key"),
    ],
)
def test_refusals_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidExercise) as info:
        exercise_from_dict(data)
    assert message in str(info.value)
