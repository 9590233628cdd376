"""One lookup of a classroom's exercise (server/courses/exercises.py), as grading, the cockpit
and the integrity reports now share it, on SQLite and PostgreSQL: the exercise of that
classroom only, and ``unknown_exercise`` where each of them answers for one that is not."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from server.courses.exercises import find_exercise
from server.courses.importer import import_course
from server.exceptions import NotFound
from tests.conftest import Lesson, new_classroom, state_of

EXERCISE = """
id = "double"
title = "Double it"
language = "python"

[[tests]]
name = "two"
stdin = "2"
expected = "4"
"""


@pytest.fixture
async def imported(app: Starlette, lesson: Lesson, tmp_path: Path) -> None:
    (tmp_path / "course" / "exercises").mkdir(parents=True)
    (tmp_path / "course" / "exercises" / "double.toml").write_text(EXERCISE)
    await import_course(state_of(app).store, lesson.classroom["id"], tmp_path / "course")


@pytest.mark.usefixtures("imported")
async def test_the_exercise_of_its_classroom_and_no_other(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    store = state_of(app).store
    record, exercise = await find_exercise(store, lesson.classroom["id"], "double")
    assert (record.classroom_id, record.exercise_id) == (lesson.classroom["id"], "double")
    assert (exercise.id, exercise.title, [t.name for t in exercise.tests]) == (
        "double",
        "Double it",
        ["two"],
    )
    other = await new_classroom(client, lesson.teacher, "CS 102")
    for classroom_id, exercise_id in ((lesson.classroom["id"], "triple"), (other["id"], "double")):
        with pytest.raises(NotFound) as refused:
            await find_exercise(store, classroom_id, exercise_id)
        assert refused.value.code == "unknown_exercise"
        assert repr(exercise_id) in str(refused.value)


@pytest.mark.usefixtures("imported")
async def test_each_caller_answers_unknown_exercise(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    submitted = await client.post(
        f"/api/rooms/{lesson.room_id}/exercises/triple/submissions",
        json={"files": {"main.py": "print(6)"}},
        headers=lesson.alice.headers,
    )
    assert submitted.status_code == 404, submitted.text
    assert submitted.json()["error"]["code"] == "unknown_exercise"
    report = await client.get(
        f"/api/classrooms/{lesson.classroom['id']}/exercises/triple/similarity",
        headers=lesson.teacher.headers,
    )
    assert report.status_code == 404, report.text
    assert report.json()["error"]["code"] == "unknown_exercise"
    # The known exercise still answers both.
    known = await client.get(
        f"/api/classrooms/{lesson.classroom['id']}/exercises/double/similarity",
        headers=lesson.teacher.headers,
    )
    assert known.status_code == 200, known.text
