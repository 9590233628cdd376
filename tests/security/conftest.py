"""The hostile-student suite: real Docker engine, real sandbox images, the real grader.

``graded(exercise, files)`` grades one submission in a fresh container per run, as the server
does (fails instead of skipping when CI requires Docker, through tests/services.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from sandbox.grading import Exercise, GradeResult, Visibility, grade
from sandbox.grading.results import GradedTest
from tests.sandbox.docker_support import docker_backend
from tests.sandbox.grading.conftest import runner

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
Graded = Callable[[Exercise, dict[str, str]], Awaitable[GradeResult]]


@pytest.fixture
async def graded() -> AsyncIterator[Graded]:
    async with docker_backend() as backend:
        run = runner(backend)

        async def grade_one(exercise: Exercise, files: dict[str, str]) -> GradeResult:
            return await grade(exercise, files, run=run, now=NOW)

        yield grade_one


def hidden(result: GradeResult) -> list[GradedTest]:
    return [test for test in result.tests if test.visibility is not Visibility.VISIBLE]
