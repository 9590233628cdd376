"""A class scripted for the cockpit: an exercise with hints, students who submit through the
real grader (the local sandbox), and the teacher's and students' room sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.courses.importer import import_course
from server.store import Store
from tests.conftest import Lesson, LiveServer

EXERCISE = """
id = "sum"
title = "Sum"
language = "python"
prompt = "Read two integers, print their sum."
[thresholds]
hint_after = 1
hint_cost = 5
stuck_attempts = 3
stuck_minutes = 60
[starter]
"main.py" = "a, b = map(int, input().split())\\n"
[[tests]]
name = "adds"
stdin = "1 2\\n"
expected = "3"
hints = ["Read both numbers.", "int() turns text into a number.", "print(a + b)"]
explanation = "Add the two numbers and print the result."
[[tests]]
name = "negatives"
stdin = "-1 -2\\n"
expected = "-3"
hints = ["Negative numbers add like the others."]
explanation = "int() reads a minus sign too."
"""

RIGHT = "a, b = map(int, input().split())\nprint(a + b)\n"
NAME_ERROR = "a, b = map(int, input().split())\nprint(totl)\n"
OTHER_NAME_ERROR = "a, b = map(int, input().split())\nprint(summ)\n"
WRONG = "print(3)\n"


@pytest.fixture
async def course(server: LiveServer, live_lesson: Lesson, tmp_path: Path) -> None:
    folder = tmp_path / "course"
    (folder / "exercises").mkdir(parents=True)
    (folder / "exercises" / "sum.toml").write_text(EXERCISE)
    store = Store(server.settings.database_url)
    try:
        await import_course(store, live_lesson.classroom["id"], folder)
    finally:
        await store.close()
