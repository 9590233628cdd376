"""The hostile-student suite: real Docker engine, real sandbox images, the real grader.

``graded(exercise, files)`` grades one submission in a fresh container per run, as the server
does (fails instead of skipping when CI requires Docker, through tests/services.py).
``process`` is a real server process for the tests of what reaches it over the network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.grading import Exercise, GradeResult, Visibility, grade
from sandbox.grading.results import GradedTest
from tests.sandbox.docker_support import docker_backend
from tests.sandbox.grading.conftest import runner
from tests.server.processes import ServerProcess, server_env

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
Graded = Callable[[Exercise, dict[str, str]], Awaitable[GradeResult]]


@pytest.fixture
async def process(tmp_path: Path, database_url: str) -> AsyncIterator[ServerProcess]:
    """A real ``python -m server`` on the test's database (frames up to 1 MiB): a crash shows
    as a dead process, a failure as a traceback in its log."""
    server = ServerProcess(server_env(tmp_path, database_url))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def graded() -> AsyncIterator[Graded]:
    async with docker_backend() as backend:
        run = runner(backend)

        async def grade_one(exercise: Exercise, files: dict[str, str]) -> GradeResult:
            return await grade(exercise, files, run=run, now=NOW)

        yield grade_one


def hidden(result: GradeResult) -> list[GradedTest]:
    return [test for test in result.tests if test.visibility is not Visibility.VISIBLE]
