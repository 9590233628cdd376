"""Checking an exercise dict (from a file or the database) into an :class:`Exercise`.

The way back is :mod:`sandbox.grading.dump`.

Every refusal is an :class:`InvalidExercise` naming the key path (``tests[2].compare``, indexes
from 0) and, when the caller can locate it, the line. Unknown keys are refused too: a typo such as
``pionts`` would otherwise silently give the default.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from sandbox.grading import valuetests
from sandbox.grading.definitions import (
    CompareMode,
    Comparison,
    Exercise,
    IOTest,
    LateMode,
    LatePenalty,
    Penalties,
    RateLimit,
    Rubric,
    SimilarityPolicy,
    Test,
    Thresholds,
    UnitCase,
    UnitTest,
    ValueTest,
    Visibility,
)
from sandbox.grading.exceptions import UnsupportedLanguage
from sandbox.grading.harness import RUST_MODULE, SUPPORTED, discover_cases, reserved_names
from sandbox.grading.tables import (
    Context,
    Locate,
    ReadFile,
    Table,
    kind_of,
    path_problem,
)
from sandbox.grading.values import tag
from sandbox.languages import LANGUAGES

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_LANGUAGE = re.compile(r"[a-z][a-z0-9_+-]{0,31}")


def exercise_from_dict(
    data: object,
    source: str = "<dict>",
    *,
    locate: Locate | None = None,
    read_file: ReadFile | None = None,
) -> Exercise:
    """Check ``data`` and build the exercise. ``locate`` maps a key path to a 1-based line;
    ``read_file`` reads a file named by a unit test (relative to the exercise file) when the test
    gives ``file`` without ``source``; it raises OSError or ValueError. Raises
    :class:`InvalidExercise`."""
    ctx = Context(source, locate, read_file)
    top = Table(data, (), ctx)
    ident = top.text("id")
    if not _ID.fullmatch(ident):
        top.fail("id", "must be 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit")
    language = top.text("language")
    if not _LANGUAGE.fullmatch(language):
        top.fail("language", f"not a language name: {language!r}")
    if language not in LANGUAGES:
        # A room cannot run it: refuse it here rather than store an exercise nobody can submit.
        known = ", ".join(sorted(LANGUAGES))
        top.fail("language", f"unknown language {language!r}; known: {known}")
    starter = _starter(top)
    raw_tests = top.raw("tests")
    if not isinstance(raw_tests, list) or not raw_tests:
        top.fail("tests", "expected a non-empty array of tests")
    tests = tuple(_test(Table(raw, ("tests", i), ctx), language) for i, raw in enumerate(raw_tests))
    names = [test.name for test in tests]
    for i, test_name in enumerate(names):
        if test_name in names[:i]:
            ctx.fail(("tests", i, "name"), f"duplicate test name {test_name!r}")
    exercise = Exercise(
        id=ident,
        title=top.text("title"),
        language=language,
        tests=tests,
        prompt=top.text("prompt", ""),
        starter=starter,
        rubric=_rubric(top),
        penalties=_penalties(top),
        due=_due(top),
        time_limit=top.number("time_limit", None, low=0.001),
        reference_time=top.number("reference_time", None, low=0.000001),
        rate_limit=_rate_limit(top),
        similarity=_similarity(top),
        thresholds=_thresholds(top),
    )
    for i, test in enumerate(tests):
        if test.visibility is Visibility.AFTER_DUE and exercise.due is None:
            ctx.fail(("tests", i, "visibility"), "after_due needs the exercise's due date")
    if exercise.rubric.performance > 0 and exercise.reference_time is None:
        top.fail("rubric", "a performance weight needs reference_time (seconds)")
    for i, test in enumerate(tests):
        if isinstance(test, ValueTest) and test.file is None and exercise.entry is None:
            ctx.fail(("tests", i, "file"), "missing: the exercise has no starter file to call into")
    if any(isinstance(test, UnitTest) for test in tests):
        reserved = reserved_names(language)
        for path in starter:
            if path in reserved:
                top.fail(
                    "starter", f"{path} is used by the unit-test runner; name the file otherwise"
                )
    if exercise.test_points <= 0:
        top.fail("tests", "the tests are worth no points in all")
    top.finish()
    return exercise


def _starter(top: Table) -> dict[str, str]:
    raw = top.raw("starter", {})
    table = Table(raw, ("starter",), top.ctx)
    files: dict[str, str] = {}
    for path in list(table.data):
        problem = path_problem(path)
        if problem is not None:
            table.fail(path, f"file name {problem}")
        files[path] = table.text(path)
    return files


def _similarity(top: Table) -> SimilarityPolicy:
    table = Table(top.raw("similarity", {}), ("similarity",), top.ctx)
    threshold = table.number("threshold", 0.5)
    if threshold > 1:
        table.fail("threshold", "a similarity is between 0 and 1")
    penalty = table.number("penalty", 0.0)
    if penalty > 100:
        table.fail("penalty", "a percentage must be at most 100")
    reference = Table(table.raw("reference", {}), ("similarity", "reference"), top.ctx)
    files = {}
    for path in list(reference.data):
        problem = path_problem(path)
        if problem is not None:
            reference.fail(path, f"file name {problem}")
        files[path] = reference.text(path)
    table.finish()
    return SimilarityPolicy(float(threshold), float(penalty), files)


def _test(table: Table, language: str) -> Test:
    kind = table.text("kind", "io")
    name = table.text("name")
    if not name.strip() or len(name) > 200:
        table.fail("name", "must be 1 to 200 characters, not all blank")
    visibility = table.choice("visibility", Visibility, Visibility.VISIBLE)
    if kind == "unit":
        test: Test = _unit_test(table, name, visibility, language)
    elif kind == "io":
        test = _io_test(table, name, visibility)
    elif kind == "value":
        test = _value_test(table, name, visibility, language)
    else:
        table.fail("kind", f"expected one of io, unit, value, got {kind!r}")
    test = _test_help(table, test)
    table.finish()
    return test


def _io_test(table: Table, name: str, visibility: Visibility) -> IOTest:
    args = table.raw("args", [])
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        table.fail("args", "expected an array of strings")
    mode = table.choice("compare", CompareMode, CompareMode.TRIM)
    expected = table.text("expected")
    if mode is CompareMode.REGEX:
        try:
            re.compile(expected, re.MULTILINE)
        except re.error as exc:
            table.fail("expected", f"not a valid regular expression: {exc}")
    return IOTest(
        name=name,
        expected=expected,
        points=table.number("points", 1.0),
        visibility=visibility,
        stdin=table.text("stdin", ""),
        args=tuple(args),
        compare=Comparison(mode, table.number("abs_tol", 0.0), table.number("rel_tol", 0.0)),
    )


def _unit_test(table: Table, name: str, visibility: Visibility, language: str) -> UnitTest:
    file = table.text("file")
    problem = path_problem(file)
    if problem is not None:
        table.fail("file", f"file name {problem}")
    source = table.text("source", None)
    if source is None:
        if table.ctx.read_file is None:
            table.fail("source", "missing required key (no file to read it from)")
        try:
            source = table.ctx.read_file(file)
        except OSError as exc:
            table.fail("file", f"cannot read {file}: {exc.strerror or exc}")
        except ValueError as exc:
            table.fail("file", f"cannot read {file}: {exc}")
    if language == "rust" and not RUST_MODULE.fullmatch(file):
        table.fail("file", "a Rust test file is a module: name it like test_gcd.rs")
    if language in SUPPORTED and file in reserved_names(language):
        table.fail("file", f"{file} is used by the unit-test runner; name the file otherwise")
    try:
        found = discover_cases(language, source)
    except UnsupportedLanguage as exc:
        table.fail("kind", str(exc))
    except ValueError as exc:
        table.fail("file", f"{file}: {exc}")
    if not found:
        table.fail("file", f"{file}: no tests found")
    each = table.number("points", 1.0)
    overrides = Table(table.raw("case_points", {}), (*table.path, "case_points"), table.ctx)
    for case in overrides.data:
        if case not in found:
            overrides.fail(case, f"no such test in {file}")
    cases = tuple(UnitCase(case, overrides.number(case, each)) for case in found)
    forgeable = table.raw("forgeable_hidden", False)
    if not isinstance(forgeable, bool):
        table.fail("forgeable_hidden", f"expected a boolean, got {kind_of(forgeable)}")
    if visibility is not Visibility.VISIBLE and not forgeable:
        table.fail(
            "visibility",
            "an assert-style unit test is decided inside the student's process, where the "
            "student's code can forge its verdict: make it visible, use value or I/O tests "
            "(decided on the server), or accept the risk with forgeable_hidden = true",
        )
    return UnitTest(
        name=name,
        file=file,
        source=source,
        cases=cases,
        visibility=visibility,
        forgeable_hidden=forgeable,
    )


def _value_test(table: Table, name: str, visibility: Visibility, language: str) -> ValueTest:
    if language not in valuetests.SUPPORTED:
        supported = ", ".join(sorted(valuetests.SUPPORTED))
        table.fail("kind", f"value tests are not supported for {language}; supported: {supported}")
    function = table.text("function")
    if not valuetests.IDENTIFIER.fullmatch(function):
        table.fail("function", f"not a function name: {function!r}")
    args = table.raw("args", [])
    if not isinstance(args, list):
        table.fail("args", f"expected an array of arguments, got {kind_of(args)}")
    expected = table.raw("expected")
    for key, value in (("args", args), ("expected", expected)):
        try:
            tag(value)
        except ValueError as exc:
            table.fail(key, str(exc))
    problem = valuetests.check_args(language, args)
    if problem is not None:
        table.fail("args", problem)
    file = table.text("file", None)
    if file is not None and (problem := path_problem(file)) is not None:
        table.fail("file", f"file name {problem}")
    return ValueTest(
        name=name,
        function=function,
        args=tuple(args),
        expected=expected,
        points=table.number("points", 1.0),
        visibility=visibility,
        file=file,
        abs_tol=table.number("abs_tol", 0.0),
        rel_tol=table.number("rel_tol", 0.0),
    )


def _rubric(top: Table) -> Rubric:
    table = Table(top.raw("rubric", {}), ("rubric",), top.ctx)
    base = Rubric()
    rubric = Rubric(
        correctness=table.number("correctness", base.correctness),
        performance=table.number("performance", base.performance),
        quality=table.number("quality", base.quality),
        style=table.number("style", base.style),
        total_points=table.number("total_points", None, low=0.000001),
        performance_factor=table.number("performance_factor", base.performance_factor, low=1.0),
        performance_zero_factor=table.number(
            "performance_zero_factor", base.performance_zero_factor, low=1.0
        ),
        lint_deduction=table.number("lint_deduction", base.lint_deduction),
    )
    if rubric.correctness + rubric.performance + rubric.quality + rubric.style <= 0:
        top.fail("rubric", "the weights sum to zero")
    if rubric.performance_zero_factor <= rubric.performance_factor:
        table.fail("performance_zero_factor", "must be greater than performance_factor")
    if rubric.lint_deduction > 1:
        table.fail("lint_deduction", "must be at most 1")
    table.finish()
    return rubric


def _penalties(top: Table) -> Penalties:
    table = Table(top.raw("penalties", {}), ("penalties",), top.ctx)
    late = None
    raw_late = table.raw("late", None)
    if raw_late is not None:
        late_table = Table(raw_late, ("penalties", "late"), top.ctx)
        modes = [mode for mode in LateMode if mode.value in late_table.data]
        if len(modes) != 1:
            table.fail("late", "give exactly one of per_day, flat")
        percent = late_table.number(modes[0].value)
        cap = late_table.number("max", 100.0)
        if percent > 100 or cap > 100:
            table.fail("late", "percentages must be at most 100")
        late = LatePenalty(modes[0], percent, cap)
        late_table.finish()
    attempts = table.raw("attempts", [])
    if not isinstance(attempts, list) or not all(
        not isinstance(p, bool) and isinstance(p, int | float) and 0 <= p <= 100 for p in attempts
    ):
        table.fail("attempts", "expected an array of percentages from 0 to 100")
    table.finish()
    return Penalties(late=late, attempts=tuple(float(p) for p in attempts))


def _due(top: Table) -> datetime | None:
    value = top.raw("due", None)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            top.fail("due", f"not an ISO datetime: {value!r}")
    if not isinstance(value, datetime):
        top.fail("due", f"expected a datetime with a time zone, got {kind_of(value)}")
    if value.utcoffset() is None:
        top.fail("due", "must include a time zone, e.g. 2026-12-01T23:59:00Z")
    return value


def _rate_limit(top: Table) -> RateLimit | None:
    raw = top.raw("rate_limit", None)
    if raw is None:
        return None
    table = Table(raw, ("rate_limit",), top.ctx)
    count = table.raw("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        table.fail("count", "expected a whole number >= 1")
    limit = RateLimit(count, table.number("window", low=0.001))
    table.finish()
    return limit


# -- hints, explanations and thresholds (the instructor's cockpit) ---------------------------

MAX_HINTS = 10
MAX_HELP_TEXT = 4000


def _test_help(table: Table, test: Test) -> Test:
    """A test's ``hints`` (an array of Markdown strings, unlocked one by one) and its
    ``explanation`` (shown once the test passed, or after the due date)."""
    hints = table.raw("hints", [])
    if (
        not isinstance(hints, list)
        or len(hints) > MAX_HINTS
        or not all(isinstance(h, str) and h.strip() and len(h) <= MAX_HELP_TEXT for h in hints)
    ):
        table.fail("hints", f"expected an array of at most {MAX_HINTS} non-blank strings")
    explanation = table.text("explanation", "")
    if len(explanation) > MAX_HELP_TEXT:
        table.fail("explanation", f"must be at most {MAX_HELP_TEXT} characters")
    return dataclasses.replace(test, hints=tuple(hints), explanation=explanation)


def _thresholds(top: Table) -> Thresholds:
    table = Table(top.raw("thresholds", {}), ("thresholds",), top.ctx)
    base = Thresholds()
    whole = {}
    for key in ("hint_after", "hint_cost", "stuck_attempts"):
        value = table.raw(key, getattr(base, key))
        low = 0 if key == "hint_cost" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            table.fail(key, f"expected a whole number >= {low}")
        whole[key] = value
    minutes = table.number("stuck_minutes", base.stuck_minutes, low=0.1)
    table.finish()
    return Thresholds(stuck_minutes=minutes, **whole)
