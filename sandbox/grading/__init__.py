"""Exercises and autograding: definitions, comparisons, unit-test harnesses, scores, penalties.

Entry points for the server::

    load_exercise(path) -> Exercise                 # one TOML/YAML file; InvalidExercise if bad
    load_course_exercises(folder) -> list[Exercise]
    check_course_exercises(folder) -> (exercises, problems)   # report every bad file at once
    exercise_to_dict(e) / exercise_from_dict(data)  # JSON-able form (dump.py, schema.py)
    await grade(exercise, files, run=..., now=..., attempt=..., submitted_at=...) -> GradeResult
    GradeResult.to_results_json() -> dict           # Gradescope's results.json shape
    filter_for_student(results, exercise, now) -> dict
    await regrade(items, run=..., now=..., progress=...) -> list[GradeResult | Exception]
    RateLimiter(count, window).acquire(key, now) -> Decision
"""

from __future__ import annotations

from sandbox.grading.definitions import Exercise, IOTest, UnitTest, ValueTest, Visibility
from sandbox.grading.exceptions import (
    GradingError,
    InvalidExercise,
    InvalidSubmission,
    RunFailed,
    UnsupportedLanguage,
)
from sandbox.grading.grader import RegradeItem, Run, grade, regrade
from sandbox.grading.loading import check_course_exercises, load_course_exercises, load_exercise
from sandbox.grading.ratelimit import Decision, RateLimiter
from sandbox.grading.results import GradeResult, filter_for_student

__all__ = [
    "Decision",
    "Exercise",
    "GradeResult",
    "GradingError",
    "IOTest",
    "InvalidExercise",
    "InvalidSubmission",
    "RateLimiter",
    "RegradeItem",
    "Run",
    "RunFailed",
    "UnitTest",
    "UnsupportedLanguage",
    "ValueTest",
    "Visibility",
    "check_course_exercises",
    "filter_for_student",
    "grade",
    "load_course_exercises",
    "load_exercise",
    "regrade",
]
