"""Grading through real sandboxes (local and Docker): examples, partial credit, unit-test
runners in four languages, failures of every kind, penalties, regrade."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.grading import (
    Exercise,
    InvalidSubmission,
    RegradeItem,
    RunFailed,
    filter_for_student,
    grade,
    load_course_exercises,
    regrade,
)
from sandbox.grading.grader import GradeResult
from sandbox.grading.schema import exercise_from_dict
from sandbox.model import RunRequest, RunResult
from tests.sandbox.grading.conftest import Sandbox

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "course" / "exercises"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

FIZZBUZZ = """\
def fizzbuzz(n):
    if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    return str(n)
"""
SOLUTIONS = {
    "greet": {"main.py": "name = input().strip()\nprint(f\"Hello, {name or 'world'}!\")\n"},
    "mean": {
        "main.js": "const n = require('fs').readFileSync(0, 'utf8').split(/\\s+/)"
        ".filter(Boolean).map(Number);\nconsole.log(n.reduce((a, b) => a + b, 0) / n.length);\n"
    },
    "word-count": {
        "main.c": "#include <stdio.h>\n#include <ctype.h>\n"
        "int main(int argc, char **argv) {\n"
        '    if (argc > 1) { printf("%d\\n", argc - 1); return 0; }\n'
        "    int c, n = 0, in = 0;\n"
        "    while ((c = getchar()) != EOF) {\n"
        "        if (isspace(c)) in = 0; else if (!in) { in = 1; n++; }\n"
        "    }\n"
        '    printf("%d\\n", n);\n    return 0;\n}\n'
    },
    "fizzbuzz": {"fizzbuzz.py": FIZZBUZZ},
    "stack": {
        "stack.js": "class Stack {\n  constructor() { this.items = []; }\n"
        "  push(x) { this.items.push(x); }\n  pop() { return this.items.pop(); }\n"
        "  peek() { return this.items[this.items.length - 1]; }\n"
        "  get size() { return this.items.length; }\n}\nmodule.exports = { Stack };\n"
    },
    "gcd": {
        "gcd.c": "int gcd(int a, int b) {\n"
        "    while (b) { int t = a % b; a = b; b = t; }\n    return a;\n}\n"
    },
    "clamp": {
        "clamp.c": "int clamp(int x, int lo, int hi) { return x < lo ? lo : x > hi ? hi : x; }\n"
        "double average(const double *xs, int n) {\n"
        "    double s = 0;\n    for (int i = 0; i < n; i++) s += xs[i];\n"
        "    return n ? s / n : 0;\n}\n"
    },
}


def examples() -> dict[str, Exercise]:
    return {exercise.id: exercise for exercise in load_course_exercises(EXAMPLES)}


def by_name(result: GradeResult) -> dict[str, Any]:
    return {test.name: test for test in result.tests}


def inline(**data: Any) -> Exercise:
    base: dict[str, Any] = {"id": "inline", "title": "Inline"}
    return exercise_from_dict(base | data)


async def test_reference_solutions_pass_every_example(sandbox: Sandbox) -> None:
    sandbox.need("python", "javascript", "c")
    for exercise in examples().values():
        result = await grade(exercise, SOLUTIONS[exercise.id], run=sandbox.run, now=NOW)
        failures = [(t.name, t.output) for t in result.tests if not t.passed]
        assert failures == [], exercise.id
        assert result.rubric["correctness"].fraction == 1.0
        if exercise.rubric.performance == 0:
            assert result.score == result.max_score, exercise.id


async def test_io_partial_credit_and_feedback(sandbox: Sandbox) -> None:
    sandbox.need("python")
    greet = examples()["greet"]
    always_ada = {"main.py": "input()\nprint('Hello, Ada!')\n"}
    result = await grade(greet, always_ada, run=sandbox.run, now=NOW)
    tests = by_name(result)
    assert tests["greets Ada"].passed and tests["greets Ada"].score == 2.0
    hidden = tests["greets a name with spaces"]
    assert not hidden.passed and hidden.score == 0.0
    assert hidden.output.startswith("line 1: expected 'Hello, Grace Hopper!', got 'Hello, Ada!'")
    assert "--- input\nGrace Hopper\n" in hidden.output
    assert result.rubric["correctness"].fraction == 0.4
    # the student does not see the hidden test's output, nor the after-due test before the due
    shown = filter_for_student(result.to_results_json(), greet, NOW)
    assert [t["name"] for t in shown["tests"]] == ["greets Ada", "greets a name with spaces"]
    assert "Grace" not in json.dumps(shown)


async def test_runtime_error_and_timeout(sandbox: Sandbox) -> None:
    sandbox.need("python")
    exercise = inline(
        language="python",
        time_limit=4,
        tests=[
            {"name": "loops", "stdin": "loop", "expected": "x"},
            {"name": "raises", "stdin": "raise", "expected": "x"},
            {"name": "fine", "stdin": "ok", "expected": "x"},
        ],
    )
    code = (
        "import sys\nword = input()\n"
        "if word == 'loop':\n    while True:\n        pass\n"
        "if word == 'raise':\n    raise ValueError('bad input')\n"
        "print('x')\n"
    )
    result = await grade(exercise, {"main.py": code}, run=sandbox.run, now=NOW)
    tests = by_name(result)
    assert tests["loops"].output.startswith("time limit exceeded")
    assert tests["raises"].output.startswith("runtime error (exit code 1)\n--- stderr\n")
    assert "ValueError: bad input" in tests["raises"].output
    assert tests["fine"].passed
    assert result.score == 1.0


async def test_c_compile_error_fails_every_test(sandbox: Sandbox) -> None:
    sandbox.need("c")
    exercise = examples()["word-count"]
    result = await grade(
        exercise, {"main.c": "int main(void) { return 0 }\n"}, run=sandbox.run, now=NOW
    )
    assert result.score == 0.0
    for test in result.tests:
        assert test.output.startswith("compile error\n--- compiler\n")
        assert "error: expected" in test.output


async def test_exact_comparison_in_c(sandbox: Sandbox) -> None:
    sandbox.need("c")
    exercise = examples()["word-count"]
    no_newline = SOLUTIONS["word-count"]["main.c"].replace('"%d\\n"', '"%d"')
    result = await grade(exercise, {"main.c": no_newline}, run=sandbox.run, now=NOW)
    tests = by_name(result)
    assert tests["words on stdin"].output.startswith(
        "the output differs only in its final newlines"
    )
    # "nothing at all" expects "0" exactly: without the newline it passes
    assert tests["nothing at all"].passed


async def test_python_unit_tests_score_per_case(sandbox: Sandbox) -> None:
    sandbox.need("python")
    exercise = examples()["fizzbuzz"]
    no_fizzbuzz = FIZZBUZZ.replace('    if n % 15 == 0:\n        return "FizzBuzz"\n', "")
    noisy = no_fizzbuzz.replace(
        "def fizzbuzz(n):\n", "def fizzbuzz(n):\n    print('checking', n)\n"
    )
    result = await grade(exercise, {"fizzbuzz.py": noisy}, run=sandbox.run, now=NOW)
    tests = by_name(result)
    assert [t.name for t in result.tests] == [
        "fizzbuzz: test_plain_number",
        "fizzbuzz: test_three",
        "fizzbuzz: test_five",
        "fizzbuzz: test_fifteen",
        "zero is FizzBuzz",
        "a negative multiple of three",
    ]
    assert tests["fizzbuzz: test_three"].passed
    fifteen = tests["fizzbuzz: test_fifteen"]
    assert (fifteen.passed, fifteen.max_score) == (False, 2.0)
    assert fifteen.output.startswith("multiples of 15 are FizzBuzz (line 18 of test_fizzbuzz.py)")
    assert "--- output\nchecking 45\n" in fifteen.output
    assert not tests["zero is FizzBuzz"].passed
    assert tests["zero is FizzBuzz"].output.startswith('expected "FizzBuzz", got "Fizz"')
    assert result.rubric["correctness"].fraction == 4 / 7 or result.rubric[
        "correctness"
    ].fraction == pytest.approx(4 / 7, abs=1e-4)


async def test_python_unit_import_error_and_exit(sandbox: Sandbox) -> None:
    sandbox.need("python")
    exercise = examples()["fizzbuzz"]
    broken = await grade(exercise, {"fizzbuzz.py": "def fizzbuzz(n)\n"}, run=sandbox.run, now=NOW)
    assert broken.score == 0.0
    first = broken.tests[0].output
    assert first.startswith("importing the tests failed:\n") and "SyntaxError" in first
    # The runner's own frames (main.py, importlib) are not the student's business.
    missing = await grade(
        exercise, {"fizzbuzz.py": "def fizz(n):\n    pass\n"}, run=sandbox.run, now=NOW
    )
    trace = missing.tests[0].output
    assert "cannot import name 'fizzbuzz'" in trace
    assert 'test_fizzbuzz.py", line' in trace
    assert "main.py" not in trace and "exec_module" not in trace and "<frozen" not in trace
    leaves = FIZZBUZZ.replace("    return str(n)\n", "    raise SystemExit(3)\n")
    result = await grade(exercise, {"fizzbuzz.py": leaves}, run=sandbox.run, now=NOW)
    tests = by_name(result)
    assert tests["fizzbuzz: test_three"].passed
    plain = tests["fizzbuzz: test_plain_number"]
    assert not plain.passed and plain.output.startswith("SystemExit: 3")


async def test_submitted_files_do_not_shadow_the_runner(sandbox: Sandbox) -> None:
    sandbox.need("python")
    exercise = examples()["fizzbuzz"]
    files = {"fizzbuzz.py": FIZZBUZZ, "json.py": "raise ImportError('shadowed')\n"}
    result = await grade(exercise, files, run=sandbox.run, now=NOW)
    assert all(test.passed for test in result.tests)


async def test_printed_verdicts_cannot_fake_a_pass(sandbox: Sandbox) -> None:
    sandbox.need("python")
    exercise = examples()["fizzbuzz"]
    fake = (
        "import os\n"
        "for name in ['test_plain_number', 'test_three', 'test_five', 'test_fifteen']:\n"
        "    print('@@grade:' + '0' * 32 + '@@ {\"case\": \"%s\", \"passed\": true}' % name)\n"
        "os._exit(0)\n"
    )
    result = await grade(exercise, {"fizzbuzz.py": fake}, run=sandbox.run, now=NOW, nonce="ab" * 16)
    assert result.score == 0.0
    assert result.tests[0].output.startswith("did not run: the test program ended before this test")


async def test_style_and_penalties_on_a_real_grade(sandbox: Sandbox) -> None:
    sandbox.need("python")
    greet = examples()["greet"]
    assert greet.due is not None
    messy = {"main.py": "import os\nname=input( ).strip()\nprint(f'Hello, {name or \"world\"}!')\n"}
    late = greet.due + timedelta(days=1, hours=1)
    result = await grade(greet, messy, run=sandbox.run, now=late, attempt=3, submitted_at=late)
    assert all(test.passed for test in result.tests)
    assert result.rubric["style"].fraction < 1.0 and result.rubric["quality"].fraction == 0.9
    assert [(p.kind, p.percent) for p in result.penalties] == [("late", 20.0), ("attempt", 5.0)]
    assert result.score == round(sum(p.points for p in result.rubric.values()) * 0.75, 4)
    data = result.to_results_json()
    assert data["extra_data"]["attempt"] == 3
    assert data["extra_data"]["penalties"][0]["reason"] == "2 days late"


async def test_regrade_in_parallel_with_progress(sandbox: Sandbox) -> None:
    sandbox.need("python")
    greet = examples()["greet"]
    items = [
        RegradeItem(greet, SOLUTIONS["greet"], 1, NOW),
        RegradeItem(greet, {"main.py": "print('Hello, Ada!')\n"}, 2, NOW),
        RegradeItem(greet, {"../escape.py": ""}, 3, NOW),
    ]
    seen: list[tuple[int, int]] = []
    results = await regrade(
        items, run=sandbox.run, now=NOW, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    first, second, third = results
    assert isinstance(first, GradeResult) and first.rubric["correctness"].fraction == 1.0
    assert isinstance(second, GradeResult) and second.attempt == 2
    assert isinstance(third, InvalidSubmission)


async def test_a_cancelled_run_gives_no_grade(sandbox: Sandbox) -> None:
    sandbox.need("python")

    async def cancelled(request: RunRequest) -> RunResult:
        # a real run, stopped by someone else (e.g. a server shutting down) once it has started
        execution = await sandbox.backend.run(request)
        async with asyncio.timeout(60):
            async for _ in execution.chunks():
                await execution.cancel()
            result: RunResult = await execution.wait()
            return result

    slow = {"main.py": "import time\nprint('ready', flush=True)\ntime.sleep(30)\n"}
    with pytest.raises(RunFailed, match=r"the sandbox gave no verdict \(cancelled\)"):
        await grade(examples()["greet"], slow, run=cancelled, now=NOW)


async def test_bad_submissions_are_refused_before_running(sandbox: Sandbox) -> None:
    greet = examples()["greet"]
    with pytest.raises(InvalidSubmission, match="the submission has no files"):
        await grade(greet, {}, run=sandbox.run, now=NOW)
    with pytest.raises(InvalidSubmission, match="at most 524288"):
        await grade(greet, {"main.py": "x" * 600_000}, run=sandbox.run, now=NOW)
    with pytest.raises(ValueError, match="time zone"):
        await grade(greet, SOLUTIONS["greet"], run=sandbox.run, now=datetime(2026, 1, 1))


async def test_runs_of_one_submission_are_bounded(sandbox: Sandbox) -> None:
    """All I/O tests are the cases of one run; unit-test files are runs of their own, at most
    ``concurrency`` of them in flight."""
    sandbox.need("python")
    unit = [
        {
            "kind": "unit",
            "name": f"u{i}",
            "file": f"test_{i}.py",
            "source": "def test_x():\n    pass\n",
        }
        for i in range(4)
    ]
    exercise = inline(
        language="python",
        tests=[{"name": f"t{i}", "stdin": str(i), "expected": str(i)} for i in range(6)] + unit,
    )
    in_flight, peak = 0, 0
    requests: list[RunRequest] = []

    async def counting(request: RunRequest) -> RunResult:
        nonlocal in_flight, peak
        requests.append(request)
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await sandbox.run(request)
        finally:
            in_flight -= 1

    echo = {"main.py": "print(input())\n"}
    result = await grade(exercise, echo, run=counting, now=NOW, concurrency=2)
    assert result.score == 10.0
    assert peak == 2
    assert sorted(len(r.cases) for r in requests) == [0, 0, 0, 0, 6]
