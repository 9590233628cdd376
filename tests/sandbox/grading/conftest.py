"""Real sandboxes for grading tests: every test taking ``sandbox`` runs on the local backend
and on the Docker backend, each skipped with a reason where it cannot work (and failed instead
when CI requires Docker or bubblewrap, through tests/services.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from sandbox.grading import Run
from sandbox.languages import LANGUAGES
from sandbox.local import LocalBackend
from sandbox.model import RunRequest, RunResult
from tests.sandbox.docker_support import docker_backend
from tests.services import require

RUN_SECONDS = 120


@dataclass
class Sandbox:
    name: str
    backend: Any
    run: Run
    missing: dict[str, str] = field(default_factory=dict)

    def need(self, *languages: str) -> None:
        for language in languages:
            if language in self.missing:
                pytest.skip(f"{self.name}: {self.missing[language]} is not installed")


def runner(backend: object) -> Run:
    async def run(request: RunRequest) -> RunResult:
        execution = await backend.run(request)  # type: ignore[attr-defined]
        async with asyncio.timeout(RUN_SECONDS):
            async for _ in execution.chunks():
                pass
            result: RunResult = await execution.wait()
            return result

    return run


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    if request.param == "docker":
        async with docker_backend() as docker:
            yield Sandbox("docker", docker, runner(docker))
        return
    require("bwrap")  # else the local backend refuses every run
    local = LocalBackend()
    await local.start()
    missing = {}
    for name, language in LANGUAGES.items():
        tool = local.missing_toolchain(language)
        if tool is not None:
            missing[name] = tool
    try:
        yield Sandbox("local", local, runner(local), missing)
    finally:
        await local.close()
