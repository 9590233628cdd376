"""Grading a submission: its tests through the injected ``run``, in parallel, then scoring.

All I/O tests are the cases of one run, all value tests the cases of another (one container
each, compiled once, every case its own process: sandbox/grading/valuetests.py has the trust
design); each unit-test file is a run of its own. A case whose result was reported twice, or
whose framing was forged, scores zero and is marked ``tampered``.

``run`` is whatever the caller runs code with: the server passes one that goes through its run
queue (which bounds concurrency; a full queue raises ``QueueFull``); tests pass a backend's run.
Sandbox errors and runs that end without a verdict (``internal_error``, ``cancelled``) abort
the grading (:class:`RunFailed`) rather than record a zero. Nothing here reads the clock or the
random source: ``now`` and ``nonce`` come from the caller (``nonce`` defaults to a fresh one).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sandbox.grading import harness, penalties, valuetests
from sandbox.grading.compare import compare
from sandbox.grading.definitions import Exercise, IOTest, UnitTest, ValueTest
from sandbox.grading.exceptions import InvalidSubmission, RunFailed
from sandbox.grading.lint import Linter, LintReport, ruff_lint
from sandbox.grading.results import GradedTest, GradeResult
from sandbox.grading.scoring import score
from sandbox.grading.tables import path_problem
from sandbox.grading.values import equal, tag
from sandbox.model import Case, CaseResult, Limits, RunRequest, RunResult, RunStatus

log = logging.getLogger("classroom.grading")

Run = Callable[[RunRequest], Awaitable[RunResult]]
MAX_FILES = 64
MAX_BYTES = 512 * 1024
_SHOW = 1000
TAMPERED = (
    "tampering: two results, or a result not framed by the sandbox, for this test; it scores "
    "zero and the submission is flagged for staff"
)


@dataclass(frozen=True)
class _Graded:
    rows: list[GradedTest]
    run_ms: float
    passed: bool


async def grade(
    exercise: Exercise,
    files: dict[str, str],
    *,
    run: Run,
    now: datetime,
    attempt: int = 1,
    submitted_at: datetime | None = None,
    lint: Linter = ruff_lint,
    nonce: str | None = None,
    concurrency: int = 4,
) -> GradeResult:
    """Grade ``files`` (path -> text) against ``exercise``. ``attempt`` counts from 1;
    ``submitted_at`` (default ``now``) decides lateness. Datetimes must carry a time zone.
    At most ``concurrency`` runs of this submission are in flight at once: the run queue
    refuses (``QueueFull``) rather than waits, so one exercise with many tests must not
    flood it."""
    check_submission(files)
    submitted_at = submitted_at or now
    if now.utcoffset() is None or submitted_at.utcoffset() is None:
        raise ValueError("now and submitted_at must carry a time zone")
    nonce = nonce or secrets.token_hex(16)
    linted = exercise.rubric.quality > 0 or exercise.rubric.style > 0
    gate = asyncio.Semaphore(concurrency)

    async def gated(request: RunRequest) -> RunResult:
        async with gate:
            return await run(request)

    io_tests = [t for t in exercise.tests if isinstance(t, IOTest)]
    value_tests = [t for t in exercise.tests if isinstance(t, ValueTest)]
    try:
        async with asyncio.TaskGroup() as group:
            # All I/O tests are one run, all value tests another: one container each, every
            # case its own process inside it (see sandbox/grading/valuetests.py).
            batches = []
            if io_tests:
                batches.append(group.create_task(_grade_io(exercise, io_tests, files, gated)))
            if value_tests:
                batches.append(
                    group.create_task(_grade_values(exercise, value_tests, files, gated))
                )
            units = {
                id(t): group.create_task(_grade_unit(exercise, t, files, gated, nonce))
                for t in exercise.tests
                if isinstance(t, UnitTest)
            }
            lint_task = group.create_task(lint(exercise.language, files)) if linted else None
    except* Exception as errors:
        # The group cancelled the other runs; callers catch QueueFull etc., not a group.
        raise errors.exceptions[0] from None
    by_test: dict[int, _Graded] = {key: task.result() for key, task in units.items()}
    for batch in batches:
        by_test.update(batch.result())
    graded = [by_test[id(t)] for t in exercise.tests]
    report: LintReport | None = lint_task.result() if lint_task is not None else None
    applied = penalties.applicable(exercise.penalties, exercise.due, submitted_at, attempt)
    rows = [row for item in graded for row in item.rows]
    result = score(exercise, rows, [g.run_ms for g in graded if g.passed], report, applied)
    log.info("graded %s attempt %s: %s/%s", exercise.id, attempt, result.score, exercise.max_score)
    return GradeResult(
        exercise_id=exercise.id,
        score=result.score,
        max_score=exercise.max_score,
        output=result.output,
        tests=tuple(rows),
        rubric=result.parts,
        penalties=tuple(applied),
        attempt=attempt,
        submitted_at=submitted_at,
        graded_at=now,
        execution_time=round(sum(g.run_ms for g in graded) / 1000, 3),
        before_due=result.before_due,
    )


def check_submission(files: dict[str, str]) -> None:
    if not files:
        raise InvalidSubmission("the submission has no files")
    if len(files) > MAX_FILES:
        raise InvalidSubmission(f"the submission has {len(files)} files; at most {MAX_FILES}")
    size = 0
    for path, text in files.items():
        if not isinstance(path, str) or not isinstance(text, str):
            raise InvalidSubmission("file names and contents must be text")
        problem = path_problem(path)
        if problem is not None:
            raise InvalidSubmission(f"file name {path!r}: {problem}")
        size += len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        raise InvalidSubmission(f"the submission is {size} bytes; at most {MAX_BYTES}")


def _limits(exercise: Exercise) -> Limits | None:
    if exercise.time_limit is None:
        return None
    return Limits().with_overrides({"time_seconds": exercise.time_limit})


async def _run_cases(
    exercise: Exercise, files: dict[str, str], cases: tuple[Case, ...], run: Run
) -> tuple[RunResult, tuple[CaseResult, ...] | None]:
    """The run of ``cases``; the case results, or None when no case ran (compile error)."""
    request = RunRequest(exercise.language, files, limits=_limits(exercise), cases=cases)
    result = _verdict(await run(request))
    if result.status is RunStatus.OK and len(result.cases) != len(cases):
        raise RunFailed(f"the sandbox ran {len(result.cases)} of {len(cases)} cases")
    return result, (result.cases if len(result.cases) == len(cases) else None)


def _row(test: IOTest | ValueTest, passed: bool, output: str, *, tampered: bool) -> GradedTest:
    points = test.points if passed and not tampered else 0.0
    return GradedTest(
        test.name, points, test.points, passed and not tampered, output, test.visibility, tampered
    )


async def _grade_io(
    exercise: Exercise, tests: list[IOTest], files: dict[str, str], run: Run
) -> dict[int, _Graded]:
    entry = exercise.entry
    ordered = {entry: files[entry], **files} if entry in files and entry is not None else files
    cases = tuple(Case(test.stdin, test.args) for test in tests)
    result, results = await _run_cases(exercise, ordered, cases, run)
    graded: dict[int, _Graded] = {}
    for index, test in enumerate(tests):
        if results is None:
            row = _row(test, False, _failure(result), tampered=False)
            graded[id(test)] = _Graded([row], _run_ms(result), False)
            continue
        case = results[index]
        if case.tampered:
            passed, output = False, TAMPERED
        elif case.status is RunStatus.OK:
            outcome = compare(test.expected, case.stdout, test.compare)
            passed, output = outcome.passed, outcome.reason or "passed"
            if not passed:
                output += _section("input", test.stdin) + _section("expected", test.expected)
                output += _section("output", case.stdout) + _section("stderr", case.stderr)
        else:
            passed, output = False, _failure(case)
        graded[id(test)] = _Graded([_row(test, passed, output, tampered=case.tampered)],
                               _run_ms(case), passed)  # fmt: skip
    return graded


async def _grade_values(
    exercise: Exercise, tests: list[ValueTest], files: dict[str, str], run: Run
) -> dict[int, _Graded]:
    graded: dict[int, _Graded] = {}
    calls: list[tuple[ValueTest, str]] = []
    for test in tests:
        file = test.file or exercise.entry or ""
        if file in files:
            calls.append((test, file))
        else:
            row = _row(test, False, f"the submission has no file {file}", tampered=False)
            graded[id(test)] = _Graded([row], 0.0, False)
    if not calls:
        return graded
    layout, cases = valuetests.value_run(exercise.language, calls, files)
    result, results = await _run_cases(exercise, layout, cases, run)
    for index, (test, _) in enumerate(calls):
        if results is None:
            row = _row(test, False, _failure(result), tampered=False)
            graded[id(test)] = _Graded([row], _run_ms(result), False)
            continue
        case = results[index]
        report = valuetests.read_case(case.stdout)
        tampered = case.tampered or report.tampered
        passed = False
        if tampered:
            output = TAMPERED
        elif report.value is not None and case.status is RunStatus.OK:
            why = equal(tag(test.expected), report.value, test.abs_tol, test.rel_tol)
            passed, output = why is None, why or "passed"
        elif report.raised is not None:
            output = "the call failed:\n" + report.raised
        elif case.status is not RunStatus.OK:
            output = _failure(case)
        else:
            output = report.problem or "no value"
        if not passed and not tampered:
            output += _section("output", report.output) + _section("stderr", case.stderr)
        graded[id(test)] = _Graded([_row(test, passed, output, tampered=tampered)],
                               _run_ms(case), passed)  # fmt: skip
    return graded


async def _grade_unit(
    exercise: Exercise, test: UnitTest, files: dict[str, str], run: Run, nonce: str
) -> _Graded:
    cases = [case.name for case in test.cases]
    layout = harness.unit_files(
        exercise.language,
        test_file=test.file,
        test_source=test.source,
        cases=cases,
        submission=files,
        nonce=nonce,
    )
    result = _verdict(await run(RunRequest(exercise.language, layout, limits=_limits(exercise))))
    verdicts = harness.read_verdicts(result.stdout, nonce)
    if verdicts.error is not None:
        missing = verdicts.error
    elif result.status is not RunStatus.OK:
        missing = "did not run: " + _failure(result)
    else:
        missing = "did not run: the test program ended before this test" + _section(
            "stderr", result.stderr
        )
    rows = []
    for case in test.cases:
        verdict = verdicts.cases.get(case.name)
        passed = verdict is not None and verdict.passed
        if verdict is None:
            output = missing
        else:
            output = verdict.message or ("passed" if passed else "failed")
            output += _section("output", verdict.output)
        name = f"{test.name}: {case.name}"
        rows.append(
            GradedTest(
                name, case.points if passed else 0.0, case.points, passed, output, test.visibility
            )
        )
    return _Graded(rows, _run_ms(result), all(row.passed for row in rows))


def _run_ms(result: RunResult | CaseResult) -> float:
    """CPU time when the backend measures it: wall time counts a container's start too."""
    return result.cpu_ms if result.cpu_ms is not None else result.wall_ms


def _verdict(result: RunResult) -> RunResult:
    if result.status in (RunStatus.INTERNAL_ERROR, RunStatus.CANCELLED):
        raise RunFailed(f"the sandbox gave no verdict ({result.status.value}): {result.message}")
    return result


def _failure(result: RunResult | CaseResult) -> str:
    status = result.status
    if status is RunStatus.COMPILE_ERROR and isinstance(result, RunResult):
        return "compile error" + _section("compiler", result.compile_output or result.stderr)
    if status is RunStatus.TIMEOUT:
        text = "time limit exceeded"
    elif status is RunStatus.MEMORY_LIMIT:
        text = "memory limit exceeded"
    elif status is RunStatus.OUTPUT_LIMIT:
        text = "output limit exceeded"
    elif result.signal:
        text = f"runtime error (killed by {result.signal})"
    elif result.exit_code is None and result.message:
        text = result.message
    else:
        text = f"runtime error (exit code {result.exit_code})"
    return text + _section("stderr", result.stderr)


def _section(title: str, text: str) -> str:
    if not text:
        return ""
    shown = text if len(text) <= _SHOW else text[:_SHOW] + "\n… (cut)"
    return f"\n--- {title}\n{shown}"


@dataclass(frozen=True)
class RegradeItem:
    exercise: Exercise
    files: dict[str, str]
    attempt: int
    submitted_at: datetime


async def regrade(
    items: Sequence[RegradeItem],
    *,
    run: Run,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
    lint: Linter = ruff_lint,
    concurrency: int = 4,
) -> list[GradeResult | Exception]:
    """Grade ``items`` again, ``concurrency`` submissions at a time (each runs its tests in
    parallel; the bound keeps a large regrade from filling the run queue). Returns, in order,
    a result or the error of each; ``progress(done, total)`` is called after each one."""
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(item: RegradeItem) -> GradeResult | Exception:
        nonlocal done
        async with gate:
            try:
                graded: GradeResult | Exception = await grade(
                    item.exercise,
                    item.files,
                    run=run,
                    now=now,
                    attempt=item.attempt,
                    submitted_at=item.submitted_at,
                    lint=lint,
                )
            except Exception as exc:  # one bad submission must not stop the others
                log.warning("regrade of %s failed: %s", item.exercise.id, exc, exc_info=True)
                graded = exc
        done += 1
        if progress is not None:
            progress(done, len(items))
        return graded

    return list(await asyncio.gather(*(one(item) for item in items)))
