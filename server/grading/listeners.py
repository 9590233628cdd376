"""The grading's one call-out: who is told when a stored grade changes (LTI grade passback)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from server.models import Submission

log = logging.getLogger("classroom.grading")


class GradeListener(Protocol):
    """Told after a grade is stored: graded, regraded or overridden. A failure is logged by
    the caller and the grade stays; a listener does its slow work (network) in the background."""

    async def grade_changed(self, submission: Submission) -> None: ...


async def tell(listeners: Iterable[GradeListener], submission: Submission) -> None:
    """Tell every listener; one that fails is logged and the others are still told."""
    for listener in listeners:
        try:
            await listener.grade_changed(submission)
        except Exception:
            log.error(
                "grade listener %r failed on submission %s", listener, submission.id, exc_info=True
            )
