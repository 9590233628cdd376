from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from sandbox.grading.definitions import (
    CompareMode,
    IOTest,
    LateMode,
    UnitTest,
    ValueTest,
    Visibility,
)
from sandbox.grading.dump import exercise_to_dict
from sandbox.grading.exceptions import InvalidExercise
from sandbox.grading.schema import exercise_from_dict
from sandbox.grading.tables import path_problem

UNIT_PY = """\
from solution import add


def test_small():
    assert add(1, 2) == 3


def helper():
    pass


def test_big():
    assert add(10**9, 1) == 10**9 + 1
"""


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "add",
        "title": "Add",
        "language": "python",
        "tests": [{"name": "one", "stdin": "1 2\n", "expected": "3\n"}],
    }
    data.update(changes)
    return data


def refused(data: object) -> str:
    with pytest.raises(InvalidExercise) as info:
        exercise_from_dict(data, "add.toml")
    return str(info.value)


def test_minimal_exercise_gets_defaults() -> None:
    exercise = exercise_from_dict(minimal())
    test = exercise.tests[0]
    assert isinstance(test, IOTest)
    assert (test.points, test.visibility, test.compare.mode) == (
        1.0,
        Visibility.VISIBLE,
        CompareMode.TRIM,
    )
    assert exercise.max_score == 1.0
    assert exercise.due is None and exercise.entry is None


def test_full_exercise() -> None:
    exercise = exercise_from_dict(
        minimal(
            due="2026-12-01T23:59:00+01:00",
            starter={"solution.py": "def add(a, b):\n    return 0\n"},
            time_limit=2,
            reference_time=0.1,
            rate_limit={"count": 3, "window": 60},
            rubric={
                "correctness": 6,
                "performance": 2,
                "quality": 1,
                "style": 1,
                "total_points": 20,
            },
            penalties={"late": {"per_day": 10, "max": 30}, "attempts": [0, 10, 20]},
            tests=[
                {
                    "name": "io",
                    "args": ["-v"],
                    "expected": "3",
                    "compare": "numeric",
                    "abs_tol": 0.5,
                    "points": 2,
                },
                {
                    "kind": "unit",
                    "name": "unit",
                    "file": "test_add.py",
                    "source": UNIT_PY,
                    "visibility": "after_due",
                    "forgeable_hidden": True,
                    "case_points": {"test_big": 3},
                },
            ],
        )
    )
    assert exercise.due == datetime(2026, 12, 1, 22, 59, tzinfo=UTC)
    assert exercise.entry == "solution.py"
    assert exercise.penalties.late is not None and exercise.penalties.late.mode is LateMode.PER_DAY
    assert exercise.penalties.attempts == (0.0, 10.0, 20.0)
    unit = exercise.tests[1]
    assert isinstance(unit, UnitTest)
    assert [(c.name, c.points) for c in unit.cases] == [("test_small", 1.0), ("test_big", 3.0)]
    assert unit.forgeable_hidden
    assert exercise.warnings == [
        "add: test 'unit' is hidden but assert-style: its verdict is decided in the student's "
        "process and can be forged (forgeable_hidden = true); value or I/O tests are decided "
        "on the server"
    ]
    assert exercise.test_points == 6.0 and exercise.max_score == 20.0
    # the stored form is JSON and gives the same exercise back
    stored = json.loads(json.dumps(exercise_to_dict(exercise)))
    assert exercise_from_dict(stored) == exercise


def test_due_from_a_datetime_object() -> None:
    due = datetime(2026, 12, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert exercise_from_dict(minimal(due=due)).due == due


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": None}, "add.toml: id: expected a string, got NoneType"),
        (
            {"id": "Bad Id"},
            "add.toml: id: must be 1 to 64 of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit",
        ),
        ({"language": "C#!"}, "add.toml: language: not a language name: 'C#!'"),
        ({"pionts": 3}, "add.toml: pionts: unknown key"),
        ({"tests": []}, "add.toml: tests: expected a non-empty array of tests"),
        ({"tests": [{"name": "x"}]}, "add.toml: tests[0].expected: missing required key"),
        (
            {"tests": [{"name": "x", "expected": "1", "compare": "fuzzy"}]},
            "add.toml: tests[0].compare: expected one of exact, trim, regex, numeric, got 'fuzzy'",
        ),
        (
            {"tests": [{"name": "x", "expected": "(", "compare": "regex"}]},
            "add.toml: tests[0].expected: not a valid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            {"tests": [{"name": "x", "expected": "1", "points": -1}]},
            "add.toml: tests[0].points: must be a finite number >= 0, got -1",
        ),
        (
            {"tests": [{"name": "x", "expected": "1", "points": True}]},
            "add.toml: tests[0].points: expected a number, got boolean",
        ),
        (
            {"tests": [{"name": "x", "expected": "1", "points": 0}]},
            "add.toml: tests: the tests are worth no points in all",
        ),
        (
            {"tests": [{"name": "x", "expected": "1", "visibility": "secret"}]},
            "add.toml: tests[0].visibility: "
            "expected one of visible, hidden, after_due, got 'secret'",
        ),
        (
            {"tests": [{"name": "x", "expected": "1"}, {"name": "x", "expected": "2"}]},
            "add.toml: tests[1].name: duplicate test name 'x'",
        ),
        (
            {"tests": [{"name": "x", "expected": "1", "args": [1]}]},
            "add.toml: tests[0].args: expected an array of strings",
        ),
        (
            {"tests": [{"name": "x", "kind": "fuzz", "expected": "1"}]},
            "add.toml: tests[0].kind: expected one of io, unit, value, got 'fuzz'",
        ),
        (
            {"tests": [{"name": "x", "expected": "1", "visibility": "after_due"}]},
            "add.toml: tests[0].visibility: after_due needs the exercise's due date",
        ),
        ({"due": "tomorrow"}, "add.toml: due: not an ISO datetime: 'tomorrow'"),
        (
            {"due": "2026-12-01T23:59:00"},
            "add.toml: due: must include a time zone, e.g. 2026-12-01T23:59:00Z",
        ),
        (
            {"starter": {"../x.py": ""}},
            "add.toml: starter.../x.py: "
            "file name must be a relative path of letters, digits, '_', '-' and '.' parts",
        ),
        ({"rubric": {"correctness": 0}}, "add.toml: rubric: the weights sum to zero"),
        (
            {"rubric": {"performance": 1}},
            "add.toml: rubric: a performance weight needs reference_time (seconds)",
        ),
        (
            {"rubric": {"performance_factor": 2, "performance_zero_factor": 2}},
            "add.toml: rubric.performance_zero_factor: must be greater than performance_factor",
        ),
        (
            {"penalties": {"late": {"per_day": 5, "flat": 10}}},
            "add.toml: penalties.late: give exactly one of per_day, flat",
        ),
        (
            {"penalties": {"late": {"flat": 150}}},
            "add.toml: penalties.late: percentages must be at most 100",
        ),
        (
            {"penalties": {"attempts": [0, "ten"]}},
            "add.toml: penalties.attempts: expected an array of percentages from 0 to 100",
        ),
        (
            {"rate_limit": {"count": 0, "window": 60}},
            "add.toml: rate_limit.count: expected a whole number >= 1",
        ),
        ({"rate_limit": {"count": 2}}, "add.toml: rate_limit.window: missing required key"),
        (
            {"time_limit": float("nan")},
            "add.toml: time_limit: must be a finite number >= 0.001, got nan",
        ),
    ],
)
def test_refusals_name_the_key_and_reason(changes: dict[str, Any], message: str) -> None:
    assert refused(minimal(**changes)) == message


def test_missing_top_level_key_and_wrong_root() -> None:
    data = minimal()
    del data["title"]
    assert refused(data) == "add.toml: title: missing required key"
    assert refused(["not", "a", "table"]) == "add.toml: exercise: expected a table, got array"


@pytest.mark.parametrize(
    ("test", "message"),
    [
        (
            {"source": "def test_x(:\n"},
            "add.toml: tests[0].file: test_add.py: line 1: invalid syntax",
        ),
        (
            {"source": "def helper():\n    pass\n"},
            "add.toml: tests[0].file: test_add.py: no tests found",
        ),
        (
            {"source": UNIT_PY, "case_points": {"test_nope": 2}},
            "add.toml: tests[0].case_points.test_nope: no such test in test_add.py",
        ),
        (
            {"source": UNIT_PY, "file": "main.py"},
            "add.toml: tests[0].file: "
            "main.py is used by the unit-test runner; name the file otherwise",
        ),
        ({}, "add.toml: tests[0].source: missing required key (no file to read it from)"),
    ],
)
def test_unit_test_refusals(test: dict[str, Any], message: str) -> None:
    spec = {"kind": "unit", "name": "u", "file": "test_add.py"} | test
    assert refused(minimal(tests=[spec])) == message


def test_an_unknown_language_is_refused() -> None:
    spec = {"kind": "unit", "name": "u", "file": "Main.kt", "source": "fun main() {}\n"}
    for data in (minimal(language="cobol"), minimal(language="kotlin", tests=[spec])):
        language = data["language"]
        assert refused(data) == (
            f"add.toml: language: unknown language {language!r}; "
            "known: c, cpp, go, javascript, python, rust, typescript"
        )


def test_rust_test_file_must_be_a_module_name() -> None:
    spec = {"kind": "unit", "name": "u", "file": "Test-Gcd.rs", "source": "pub fn test_x() {}\n"}
    assert refused(minimal(language="rust", tests=[spec])) == (
        "add.toml: tests[0].file: a Rust test file is a module: name it like test_gcd.rs"
    )


def test_starter_may_not_take_the_runner_name_when_unit_tested() -> None:
    spec = {"kind": "unit", "name": "u", "file": "test_add.py", "source": UNIT_PY}
    assert refused(minimal(starter={"main.py": ""}, tests=[spec])) == (
        "add.toml: starter: main.py is used by the unit-test runner; name the file otherwise"
    )
    # without unit tests main.py is the ordinary entry file
    assert exercise_from_dict(minimal(starter={"main.py": ""})).entry == "main.py"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("main.py", None),
        ("src/lib/util.js", None),
        ("", "must be 1 to 200 characters"),
        ("/etc/passwd", "must be a relative path of letters, digits, '_', '-' and '.' parts"),
        ("a/../b", "must be a relative path of letters, digits, '_', '-' and '.' parts"),
        (".hidden", "must be a relative path of letters, digits, '_', '-' and '.' parts"),
        ("a\\b", "must be a relative path of letters, digits, '_', '-' and '.' parts"),
    ],
)
def test_path_problem(path: str, problem: str | None) -> None:
    assert path_problem(path) == problem


def value(**changes: Any) -> dict[str, Any]:
    test = {"kind": "value", "name": "v", "function": "add", "args": [1, 2], "expected": 3}
    return minimal(starter={"add.py": ""}, tests=[test | changes])


def test_value_test_round_trips_with_its_defaults() -> None:
    exercise = exercise_from_dict(value(expected={"sum": [1.5, None]}, abs_tol=0.01))
    test = exercise.tests[0]
    assert isinstance(test, ValueTest)
    assert (test.function, test.args, test.file, test.points) == ("add", (1, 2), None, 1.0)
    assert test.expected == {"sum": [1.5, None]} and test.abs_tol == 0.01
    assert exercise.warnings == []
    assert exercise_from_dict(json.loads(json.dumps(exercise_to_dict(exercise)))) == exercise


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"function": "add()"}, "tests[0].function: not a function name: 'add()'"),
        ({"args": "1, 2"}, "tests[0].args: expected an array of arguments, got string"),
        ({"expected": date(2026, 1, 1)}, "tests[0].expected: a date cannot be an expected value"),
        ({"file": "../x.py"}, "tests[0].file: file name must be a relative path"),
        ({"pionts": 2}, "tests[0].pionts: unknown key"),
    ],
)
def test_value_test_refusals(changes: dict[str, Any], message: str) -> None:
    assert message in refused(value(**changes))


def test_value_tests_need_a_file_to_call_into_and_args_c_can_take() -> None:
    no_starter = minimal(tests=[{"kind": "value", "name": "v", "function": "f", "expected": 1}])
    assert "tests[0].file: missing" in refused(no_starter)
    nested = value(args=[[[1, 2]]]) | {"language": "c", "starter": {"add.c": ""}}
    assert "tests[0].args: a C list argument holds" in refused(nested)
    unknown = value() | {"language": "cobol"}
    assert "unknown language 'cobol'" in refused(unknown)  # refused before its tests


def test_similarity_policy_round_trips_and_refuses_bad_values() -> None:
    exercise = exercise_from_dict(
        minimal(
            similarity={"threshold": 0.7, "penalty": 25, "reference": {"main.py": "print(3)\n"}}
        )
    )
    policy = exercise.similarity
    assert (policy.threshold, policy.penalty, policy.reference) == (
        0.7,
        25.0,
        {"main.py": "print(3)\n"},
    )
    assert exercise_from_dict(exercise_to_dict(exercise)).similarity == policy
    assert exercise_from_dict(minimal()).similarity.penalty == 0.0  # no penalty unless set
    assert "similarity.threshold" in refused(minimal(similarity={"threshold": 1.5}))
    assert "similarity.penalty" in refused(minimal(similarity={"penalty": 150}))
    assert "similarity.fuzz" in refused(minimal(similarity={"fuzz": 1}))
    assert "similarity.reference" in refused(minimal(similarity={"reference": {"../x": "y"}}))
