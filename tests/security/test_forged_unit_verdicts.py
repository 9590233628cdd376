"""The forgery found against today's grading: Python student code, imported into the runner's
process, walks the call stack, finds the runner's result marker and list of cases, and prints a
passing verdict for every case before the real tests run (first verdict wins). Against the
course's own fizzbuzz exercise it scored full marks, hidden tests included.

Now a hidden test is a value test (decided on the server), and an exercise cannot make an
assert-style test hidden unless it says it accepts forgeable verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.grading import InvalidExercise, load_course_exercises
from sandbox.grading.dump import exercise_to_dict
from sandbox.grading.schema import exercise_from_dict
from sandbox.model import RunRequest, RunResult
from tests.sandbox.docker_support import docker_backend
from tests.sandbox.grading.conftest import runner
from tests.security.conftest import NOW, Graded, hidden

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "course" / "exercises"

STACK_WALK = r"""
import json, sys


def _forge():
    frame = sys._getframe()
    while frame is not None:
        scope = frame.f_locals
        if "marker" in scope and "config" in scope:  # the unit-test runner's main()
            out = sys.__stdout__
            for case in scope["config"]["cases"]:
                record = {"case": case, "passed": True, "message": "", "output": ""}
                out.write("\n" + scope["marker"] + json.dumps(record) + "\n")
            out.flush()
        emit = frame.f_globals.get("emit")
        if callable(emit) and "case" in scope:  # the value-test harness
            emit("value", {"t": "bool", "v": True})
        frame = frame.f_back


_forge()


def fizzbuzz(n):
    return "no idea"
"""


@pytest.mark.docker
@pytest.mark.slow
async def test_python_stack_walk_forgery_scores_zero_on_hidden_tests(graded: Graded) -> None:
    fizzbuzz = {e.id: e for e in load_course_exercises(EXAMPLES)}["fizzbuzz"]
    result = await graded(fizzbuzz, {"fizzbuzz.py": STACK_WALK})
    secret = hidden(result)
    assert secret, "the example keeps hidden tests"
    assert all(t.score == 0 and not t.passed for t in secret), [t.output for t in secret]
    assert result.score < result.max_score
    # The visible assert-style tests are forgeable, as documented: practice, not grades.
    assert any(t.passed for t in result.tests if t not in secret)


def _hidden_unit(**extra: object) -> dict[str, object]:
    return {
        "id": "forgeable",
        "title": "Hidden asserts",
        "language": "python",
        "tests": [
            {
                "kind": "unit",
                "name": "asserts",
                "file": "test_add.py",
                "source": "def test_add():\n    assert True\n",
                "visibility": "hidden",
                **extra,
            }
        ],
    }


def test_hidden_assert_style_tests_are_refused_unless_marked_forgeable() -> None:
    with pytest.raises(InvalidExercise, match="forgeable_hidden = true"):
        exercise_from_dict(_hidden_unit())
    accepted = exercise_from_dict(_hidden_unit(forgeable_hidden=True))
    assert accepted.warnings and "can be forged" in accepted.warnings[0]
    assert exercise_from_dict(exercise_to_dict(accepted)) == accepted


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("language", ["python", "c", "go"])
async def test_hidden_expected_values_never_enter_the_sandbox(language: str) -> None:
    """Every byte that goes into the sandbox for a grading (files, stdin, args of every case)
    is free of the expected values of the value and I/O tests."""
    from tests.security.test_forged_values import FILES, HONEST

    exercise = exercise_from_dict(
        {
            "id": "leak",
            "title": "No leak",
            "language": language,
            "starter": {FILES[language]: ""},
            "tests": [
                {"name": "io", "stdin": "1", "expected": "EXPECTED-OUTPUT-7f3a"},
                {
                    "kind": "value",
                    "name": "value",
                    "function": "secret",
                    "args": [3],
                    "expected": 16,
                    "visibility": "hidden",
                },
                {
                    "kind": "value",
                    "name": "text",
                    "function": "secret",
                    "args": [2],
                    "expected": "EXPECTED-VALUE-91c2",
                    "visibility": "hidden",
                },
            ],
        }
    )
    sent: list[RunRequest] = []
    async with docker_backend() as backend:
        run = runner(backend)

        async def recording(request: RunRequest) -> RunResult:
            sent.append(request)
            return await run(request)

        from sandbox.grading import grade

        result = await grade(exercise, {FILES[language]: HONEST[language]}, run=recording, now=NOW)
    assert [t.name for t in result.tests if t.passed] == ["value"]
    assert len(sent) == 2  # one run for the I/O tests, one for the value tests
    everything = json.dumps([request.to_dict() for request in sent])
    assert "EXPECTED-OUTPUT-7f3a" not in everything
    assert "EXPECTED-VALUE-91c2" not in everything
    assert '"16"' not in everything and ": 16" not in everything
