"""Instructors' verdicts on similar pairs, and the plagiarism penalty they may carry.

Rule 1: nothing is penalised without a person: the penalty is applied here, on an
instructor's confirmation, never by the report. Rule 2: only when the pair's similarity
is at least the exercise's ``similarity.threshold`` and its ``similarity.penalty`` is above
zero. Rule 3: once per submission: the penalty is an entry in the grade's
``extra_data.penalties`` (kind ``similarity``) and comes off the stored score; a second
confirmation finds it there and changes nothing. A regrade recomputes the grade from the
tests and drops it (confirm again after a regrade).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from sandbox.grading import Exercise
from server.models import SimilarityReview, Submission
from server.models.clock import as_utc, utcnow
from server.store import Store

log = logging.getLogger("classroom.integrity")

KIND = "similarity"


def review_view(row: SimilarityReview) -> dict[str, Any]:
    return {
        "id": row.id,
        "verdict": row.verdict,
        "similarity": row.similarity,
        "penalty_percent": row.penalty_percent,
        "penalized": [int(u) for u in row.penalized.split(",") if u],
        "note": row.note,
        "reviewer_id": row.reviewer_id,
        "reviewed_at": as_utc(row.reviewed_at).isoformat(),
    }


def _penalized(results: dict[str, Any], percent: float, reason: str) -> dict[str, Any] | None:
    """``results`` with the similarity penalty taken off, or None if it already has one."""
    extra = results.setdefault("extra_data", {})
    penalties = extra.setdefault("penalties", [])
    if any(item.get("kind") == KIND for item in penalties):
        return None
    penalties.append({"kind": KIND, "percent": percent, "reason": reason})
    score = float(results.get("score") or 0.0)
    results["score"] = round(score * (100.0 - percent) / 100.0, 4)
    return results


async def apply_review(
    store: Store,
    exercise: Exercise,
    pair: tuple[Submission, Submission],
    similarity: float,
    *,
    reviewer_id: int,
    verdict: str,
    penalize: list[int],
    note: str,
) -> dict[str, Any]:
    policy = exercise.similarity
    a, b = pair
    assert a.id is not None and b.id is not None
    applies = verdict == "confirmed" and policy.penalty > 0 and similarity >= policy.threshold
    if verdict != "confirmed":
        reason = "dismissed: no penalty"
    elif policy.penalty <= 0:
        reason = "the exercise sets no similarity penalty"
    elif similarity < policy.threshold:
        reason = f"similarity {similarity:.2f} is below the exercise's threshold {policy.threshold}"
    else:
        reason = None
    applied: list[dict[str, Any]] = []
    async with store.session() as session:
        row = SimilarityReview(
            classroom_id=a.classroom_id,
            exercise_id=a.exercise_id,
            a_submission_id=a.id,
            b_submission_id=b.id,
            similarity=similarity,
            verdict=verdict,
            penalty_percent=policy.penalty if applies else None,
            penalized=",".join(str(u) for u in penalize) if applies else "",
            note=note,
            reviewer_id=reviewer_id,
            reviewed_at=utcnow(),
        )
        session.add(row)
        if applies:
            for submission in pair:
                if submission.user_id not in penalize:
                    continue
                stored = await session.get(Submission, submission.id)
                if stored is None or stored.results is None:
                    continue  # not graded: nothing to take the penalty from
                other = b.id if submission is a else a.id
                changed = _penalized(
                    copy.deepcopy(stored.results),
                    policy.penalty,
                    f"similarity {similarity:.2f} with submission {other}, "
                    f"confirmed by instructor {reviewer_id}",
                )
                if changed is None:
                    continue
                stored.results = changed
                stored.score = changed["score"]
                session.add(stored)
                applied.append(
                    {
                        "user_id": stored.user_id,
                        "submission_id": stored.id,
                        "percent": policy.penalty,
                        "score": stored.score,
                    }
                )
        await session.flush()
        view = review_view(row)
    log.info(
        "similarity review of submissions %s and %s: %s (%d penalties applied)",
        a.id,
        b.id,
        verdict,
        len(applied),
    )
    return {"review": view, "penalties": applied, "reason": reason}
