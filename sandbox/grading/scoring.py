"""From per-test verdicts, timings and lint findings to a score, by the exercise's rubric.

Rule 1: correctness is the share of test points earned (partial credit per test).
Rule 2: performance is measured on runs that passed, as the median of their run times (CPU
time when the backend measures it, else wall time) against the exercise's reference time; no
passing run means no performance marks.
Rule 3: performance, quality and style are scaled by the correctness fraction: an empty or
broken file is perfectly styled and instantly fast, and must not earn marks for it.
Rule 4: a part that cannot be measured (no reference time, no linter for the language) gives
its weight to correctness; the weights are then normalised to sum to 1.
Rule 5: penalties are taken off the rubric total, once (see penalties.py).
Rule 6: before the due date a student's view leaves out the after-due tests: the grade is
computed as if they did not exist, out of their complement's share of the points.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sandbox.grading.definitions import Exercise, Visibility
from sandbox.grading.lint import Finding, LintReport
from sandbox.grading.penalties import Applied, apply
from sandbox.grading.results import GradedTest, RubricPart

PARTS = ("correctness", "performance", "quality", "style")


@dataclass(frozen=True)
class Score:
    score: float
    raw: float
    parts: dict[str, RubricPart]
    before_due: dict[str, object]
    output: str


def performance_fraction(exercise: Exercise, seconds: float) -> float:
    assert exercise.reference_time is not None
    ratio = seconds / exercise.reference_time
    full, zero = exercise.rubric.performance_factor, exercise.rubric.performance_zero_factor
    if ratio <= full:
        return 1.0
    if ratio >= zero:
        return 0.0
    return (zero - ratio) / (zero - full)


def score(
    exercise: Exercise,
    rows: Sequence[GradedTest],
    passing_run_ms: Sequence[float],
    lint: LintReport | None,
    penalties: Sequence[Applied],
) -> Score:
    parts = _parts(exercise, rows, exercise.test_points, passing_run_ms, lint)
    raw = _round(sum(part.points for part in parts.values()))
    final = _round(apply(raw, list(penalties)))
    output = summary(rows, final, exercise.max_score, penalties)
    before_due: dict[str, object] = {}
    seen = [r for r in rows if r.visibility is not Visibility.AFTER_DUE]
    if len(seen) < len(rows):
        seen_points = sum(r.max_score for r in seen)
        max_score = _round(exercise.max_score * seen_points / exercise.test_points)
        shown = 0.0
        if seen_points > 0:
            seen_parts = _parts(exercise, seen, seen_points, passing_run_ms, lint)
            fraction = sum(p.points for p in seen_parts.values()) / exercise.max_score
            shown = _round(apply(fraction * max_score, list(penalties)))
        before_due = {
            "score": shown,
            "max_score": max_score,
            "output": summary(seen, shown, max_score, penalties),
        }
    return Score(final, raw, parts, before_due, output)


def _parts(
    exercise: Exercise,
    rows: Sequence[GradedTest],
    test_points: float,
    passing_run_ms: Sequence[float],
    lint: LintReport | None,
) -> dict[str, RubricPart]:
    rubric = exercise.rubric
    weights = dict(
        zip(
            PARTS,
            (rubric.correctness, rubric.performance, rubric.quality, rubric.style),
            strict=True,
        )
    )
    notes: dict[str, str] = {}
    correct = sum(r.score for r in rows) / test_points
    measured = {"correctness": 1.0}
    if rubric.performance > 0 and exercise.reference_time is not None:
        if passing_run_ms:
            median = statistics.median(passing_run_ms)
            measured["performance"] = performance_fraction(exercise, median / 1000)
            reference = exercise.reference_time * 1000
            notes["performance"] = f"median run time {median:.0f} ms; reference {reference:.0f} ms"
        else:
            measured["performance"] = 0.0
            notes["performance"] = "no passing run to time"
    for part in ("quality", "style"):
        if lint is not None and weights[part] > 0:
            found: list[Finding] = getattr(lint, part)
            measured[part] = max(0.0, 1.0 - rubric.lint_deduction * len(found))
            notes[part] = "; ".join(str(f) for f in found[:5]) + (" …" if len(found) > 5 else "")
    for part in PARTS[1:]:
        if part not in measured and weights[part] > 0:
            weights["correctness"] += weights[part]
            weights[part] = 0.0
            notes[part] = "not measured for this exercise: its weight went to correctness"
    total_weight = sum(weights.values())
    parts = {}
    for part in PARTS:
        weight = weights[part] / total_weight
        fraction = measured.get(part, 0.0) * correct
        points = _round(exercise.max_score * weight * fraction)
        parts[part] = RubricPart(_round(weight), _round(fraction), points, notes.get(part, ""))
    return parts


def summary(
    rows: Sequence[GradedTest], score: float, max_score: float, penalties: Sequence[Applied]
) -> str:
    passed = sum(r.passed for r in rows)
    lines = [f"{passed} of {len(rows)} tests passed. Score {score:g} of {max_score:g}."]
    lines += [f"Penalty: -{p.percent:g}% ({p.reason})." for p in penalties]
    return "\n".join(lines)


def _round(value: float) -> float:
    return round(value, 4)
