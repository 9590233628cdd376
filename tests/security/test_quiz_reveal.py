"""A revealed short-answer tally does not let students test guesses while the quiz is open:
students see how many answered, not how many were right, until it closes; the staff see all."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.courses.importer import import_course
from server.store import Store
from tests.conftest import Lesson, LiveServer
from tests.server.demos.test_live import close_all, opened

DATABASES = ("sqlite",)

DEMO = """
id = "guess"
title = "Guess"
description = "One short answer."
difficulty = "beginner"
estimated_minutes = 2

[[steps]]
id = "q"
type = "interaction"
title = "Complexity"
[steps.content]
kind = "short"
question = "Complexity of bubble sort?"
accept = ["O(n^2)"]
points = 50
window = 60
"""


@pytest.fixture
async def course(server: LiveServer, live_lesson: Lesson, tmp_path: Path) -> Lesson:
    folder = tmp_path / "course"
    (folder / "demos").mkdir(parents=True)
    (folder / "demos" / "guess.toml").write_text(DEMO)
    store = Store(server.settings.database_url)
    try:
        report = await import_course(store, live_lesson.classroom["id"], folder)
    finally:
        await store.close()
    assert [d["id"] for d in report.demos] == ["guess"]
    return live_lesson


async def test_students_cannot_test_guesses_against_a_revealed_tally(
    server: LiveServer, course: Lesson
) -> None:
    room = course.room_id
    teacher, _ = await opened(server.ws_url, room, course.teacher.token)
    alice, _ = await opened(server.ws_url, room, course.alice.token)
    bob, _ = await opened(server.ws_url, room, course.bob.token)
    try:
        await teacher.send({"type": "demo.start", "demo_id": "guess"})
        await alice.expect("quiz.opened")
        await bob.send({"type": "quiz.answer", "answer": "O(n^2)"})
        await bob.expect("quiz.answered")
        await teacher.send({"type": "quiz.reveal"})
        shown = await alice.expect("quiz.tally")
        assert shown["answers"] == 1 and "correct" not in shown
        # Mallory's probe: answer, watch the tally. It must not say whether she was right.
        for guess in ("O(n)", "O(n^2)"):
            await alice.send({"type": "quiz.answer", "answer": guess})
            await alice.expect("quiz.answered")
            tally = await alice.expect("quiz.tally")
            assert "correct" not in tally and tally["answers"] == 2
        # The staff still see the right count, last (their own copy follows the room's).
        assert (await teacher.expect("quiz.tally", correct=2))["answers"] == 2
        # A late joiner's snapshot shows no correctness either.
        late, snapshot = await opened(server.ws_url, room, course.bob.token)
        assert "correct" not in snapshot["demo"]["quiz"]["tally"]
        await teacher.send({"type": "quiz.close"})
        closed = await alice.expect("quiz.closed")
        assert closed["tally"]["correct"] == 2 and closed["answer"] == ["O(n^2)"]
        await late.close()
    finally:
        await close_all(teacher, alice, bob)
