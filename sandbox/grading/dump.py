"""The canonical dict of an exercise: JSON-able, and accepted by
:func:`sandbox.grading.schema.exercise_from_dict` (how the server stores exercises)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sandbox.grading.definitions import (
    Exercise,
    SimilarityPolicy,
    Test,
    Thresholds,
    UnitTest,
    ValueTest,
)


def exercise_to_dict(exercise: Exercise) -> dict[str, Any]:
    """The canonical dict of ``exercise``: JSON-able, and accepted by :func:`exercise_from_dict`."""
    rubric, penalties = exercise.rubric, exercise.penalties
    data: dict[str, Any] = {
        "id": exercise.id,
        "title": exercise.title,
        "language": exercise.language,
        "prompt": exercise.prompt,
        "starter": dict(exercise.starter),
        "tests": [_test_to_dict(test) | _test_help_to_dict(test) for test in exercise.tests],
        "rubric": {
            "correctness": rubric.correctness,
            "performance": rubric.performance,
            "quality": rubric.quality,
            "style": rubric.style,
            "performance_factor": rubric.performance_factor,
            "performance_zero_factor": rubric.performance_zero_factor,
            "lint_deduction": rubric.lint_deduction,
        },
        "penalties": {"attempts": list(penalties.attempts)},
    }
    if rubric.total_points is not None:
        data["rubric"]["total_points"] = rubric.total_points
    if penalties.late is not None:
        late = penalties.late
        data["penalties"]["late"] = {late.mode.value: late.percent, "max": late.max_percent}
    if exercise.due is not None:
        data["due"] = exercise.due.isoformat()
    for key in ("time_limit", "reference_time"):
        if getattr(exercise, key) is not None:
            data[key] = getattr(exercise, key)
    if exercise.rate_limit is not None:
        limit = exercise.rate_limit
        data["rate_limit"] = {"count": limit.count, "window": limit.window_seconds}
    if exercise.thresholds != Thresholds():
        data["thresholds"] = dataclasses.asdict(exercise.thresholds)
    if exercise.similarity != SimilarityPolicy():
        policy = exercise.similarity
        data["similarity"] = {
            "threshold": policy.threshold,
            "penalty": policy.penalty,
            "reference": dict(policy.reference),
        }
    return data


def _test_to_dict(test: Test) -> dict[str, Any]:
    if isinstance(test, UnitTest):
        data: dict[str, Any] = {
            "kind": "unit",
            "name": test.name,
            "visibility": test.visibility.value,
            "file": test.file,
            "source": test.source,
            "case_points": {case.name: case.points for case in test.cases},
        }
        if test.forgeable_hidden:
            data["forgeable_hidden"] = True
        return data
    if isinstance(test, ValueTest):
        data = {
            "kind": "value",
            "name": test.name,
            "visibility": test.visibility.value,
            "points": test.points,
            "function": test.function,
            "args": list(test.args),
            "expected": test.expected,
            "abs_tol": test.abs_tol,
            "rel_tol": test.rel_tol,
        }
        if test.file is not None:
            data["file"] = test.file
        return data
    return {
        "kind": "io",
        "name": test.name,
        "visibility": test.visibility.value,
        "points": test.points,
        "stdin": test.stdin,
        "args": list(test.args),
        "expected": test.expected,
        "compare": test.compare.mode.value,
        "abs_tol": test.compare.abs_tol,
        "rel_tol": test.compare.rel_tol,
    }


def _test_help_to_dict(test: Test) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if test.hints:
        out["hints"] = list(test.hints)
    if test.explanation:
        out["explanation"] = test.explanation
    return out
