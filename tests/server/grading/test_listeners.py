"""The grading's call-out: every listener is told, one that fails does not stop the others."""

from __future__ import annotations

import logging

import pytest

from server.grading.listeners import tell
from server.models import Submission


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.seen: list[int | None] = []
        self.fail = fail

    async def grade_changed(self, submission: Submission) -> None:
        self.seen.append(submission.id)
        if self.fail:
            raise RuntimeError("the LMS client broke")


async def test_a_failing_listener_is_logged_and_the_next_still_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, fine = Recorder(fail=True), Recorder()
    row = Submission(id=7, classroom_id=1, exercise_id="x", user_id=2, attempt=1, files={})
    with caplog.at_level(logging.ERROR, logger="classroom.grading"):
        await tell([broken, fine], row)
    assert broken.seen == [7] and fine.seen == [7]
    assert "failed on submission 7" in caplog.text
