"""From per-test verdicts, timings and lint findings to a score, by the exercise's rubric.

Rule 1: correctness is the share of test points earned (partial credit per test).
Rule 2: performance is measured on runs that passed, as the median of their run times (CPU
time when the backend measures it, else wall time) against the exercise's reference time; no
passing run means no performance marks.
Rule 3: a part that cannot be measured (no reference time, no linter for the language) gives
its weight to correctness; the weights are then normalised to sum to 1.
Rule 4: penalties are taken off the rubric total, once (see penalties.py).
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
    rubric = exercise.rubric
    weights = dict(
        zip(
            PARTS,
            (rubric.correctness, rubric.performance, rubric.quality, rubric.style),
            strict=True,
        )
    )
    notes: dict[str, str] = {}
    fractions = {"correctness": sum(r.score for r in rows) / exercise.test_points}
    if rubric.performance > 0 and exercise.reference_time is not None:
        if passing_run_ms:
            median = statistics.median(passing_run_ms)
            fractions["performance"] = performance_fraction(exercise, median / 1000)
            reference = exercise.reference_time * 1000
            notes["performance"] = f"median run time {median:.0f} ms; reference {reference:.0f} ms"
        else:
            fractions["performance"] = 0.0
            notes["performance"] = "no passing run to time"
    for part in ("quality", "style"):
        if lint is not None and weights[part] > 0:
            found: list[Finding] = getattr(lint, part)
            fractions[part] = max(0.0, 1.0 - rubric.lint_deduction * len(found))
            notes[part] = "; ".join(str(f) for f in found[:5]) + (" …" if len(found) > 5 else "")
    for part in PARTS[1:]:
        if part not in fractions and weights[part] > 0:
            weights["correctness"] += weights[part]
            weights[part] = 0.0
            notes[part] = "not measured for this exercise: its weight went to correctness"
    total_weight = sum(weights.values())
    parts = {}
    for part in PARTS:
        weight = weights[part] / total_weight
        fraction = fractions.get(part, 0.0)
        points = _round(exercise.max_score * weight * fraction)
        parts[part] = RubricPart(_round(weight), _round(fraction), points, notes.get(part, ""))
    raw = sum(part.points for part in parts.values())
    final = _round(apply(raw, list(penalties)))
    before_due = _before_due(exercise, rows, raw, weights["correctness"] / total_weight, penalties)
    return Score(
        final, _round(raw), parts, before_due, summary(rows, final, exercise.max_score, penalties)
    )


def _before_due(
    exercise: Exercise,
    rows: Sequence[GradedTest],
    raw: float,
    correctness_weight: float,
    penalties: Sequence[Applied],
) -> dict[str, object]:
    """Score and max_score without the after-due tests' share of correctness."""
    unseen = [r for r in rows if r.visibility is Visibility.AFTER_DUE]
    if not unseen:
        return {}
    seen = [r for r in rows if r.visibility is not Visibility.AFTER_DUE]
    share = exercise.max_score * correctness_weight / exercise.test_points
    max_score = _round(exercise.max_score - share * sum(r.max_score for r in unseen))
    shown = _round(apply(raw - share * sum(r.score for r in unseen), list(penalties)))
    return {
        "score": shown,
        "max_score": max_score,
        "output": summary(seen, shown, max_score, penalties),
    }


def summary(
    rows: Sequence[GradedTest], score: float, max_score: float, penalties: Sequence[Applied]
) -> str:
    passed = sum(r.passed for r in rows)
    lines = [f"{passed} of {len(rows)} tests passed. Score {score:g} of {max_score:g}."]
    lines += [f"Penalty: -{p.percent:g}% ({p.reason})." for p in penalties]
    return "\n".join(lines)


def _round(value: float) -> float:
    return round(value, 4)
