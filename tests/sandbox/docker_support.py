"""Shared by the Docker sandbox tests: skip (or fail, in CI) without an engine or the images."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiodocker
import pytest

from sandbox.backend import Execution
from sandbox.docker import LABEL_OWNER, LABEL_RUN, DockerBackend
from sandbox.languages import LANGUAGES
from sandbox.model import Chunk, RunRequest, RunResult
from tests.services import require, required

PREFIX = "opencode-classroom"
BUILD = "sandbox/images/build-offline.sh"


def require_images() -> None:
    """``require("docker")`` plus: every language image is built."""
    require("docker")
    names = [f"{PREFIX}-{lang.image}:latest" for lang in LANGUAGES.values()]
    probe = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", *names],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        reason = f"sandbox images not built (run {BUILD}): {probe.stderr.decode()[:200]}"
        if "docker" in required():
            pytest.fail(f"docker is required (CLASSROOM_TEST_REQUIRE) but {reason}")
        pytest.skip(reason)


@asynccontextmanager
async def docker_backend(pool_size: int = 0, **kw: object) -> AsyncIterator[DockerBackend]:
    require_images()
    backend = DockerBackend(None, image_prefix=PREFIX, pool_size=pool_size, **kw)  # type: ignore[arg-type]
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


async def collect(execution: Execution, seconds: float = 60) -> tuple[list[Chunk], RunResult]:
    async with asyncio.timeout(seconds):
        chunks = [chunk async for chunk in execution.chunks()]
        return chunks, await execution.wait()


async def run(backend: DockerBackend, request: RunRequest) -> tuple[list[Chunk], RunResult]:
    return await collect(await backend.run(request))


async def containers_of(backend: DockerBackend, run_id: str | None = None) -> list[str]:
    """Ids of containers (running or not) labelled as this backend's, or as one run's."""
    labels = [f"{LABEL_OWNER}={backend.owner}"]
    if run_id is not None:
        labels.append(f"{LABEL_RUN}={run_id}")
    async with aiodocker.Docker() as docker:
        found = await docker.containers.list(all=True, filters={"label": labels})
    return [c.id for c in found]
