"""Which backend runs code here: ``docker``, ``local`` or ``auto``.

``auto`` takes Docker when the engine answers and every language's image is present, else the
local backend, and logs which one it took and why: an operator must never wonder whether the
code of a class runs in containers or as plain processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sandbox.backend import Backend
from sandbox.demand import PoolBudget
from sandbox.exceptions import BackendUnavailable
from sandbox.languages import LANGUAGES
from sandbox.local import LocalBackend
from sandbox.model import Limits

if TYPE_CHECKING:
    from sandbox.docker import DockerBackend

log = logging.getLogger("classroom.sandbox")

Kind = Literal["auto", "docker", "local"]


def operator_maxima(time_seconds: float, memory_mb: int, output_bytes: int) -> Limits:
    """The operator's ceilings (``CLASSROOM_MAX_*``); the other limits stay the languages' own."""
    return Limits(
        time_seconds=time_seconds,
        memory_mb=memory_mb,
        output_bytes=output_bytes,
        pids=1024,
        cpus=64.0,
        disk_mb=4096,
        nofile=4096,
        compile_time_seconds=max(30.0, time_seconds),
    )


def runs_at_once(backend: str, pool_max_containers: int) -> int:
    """How many runs a process (or worker) lets go at once when the operator did not say
    (``CLASSROOM_RUN_CONCURRENCY`` 0): with Docker, as many as the warm pool may hold containers
    (``CLASSROOM_POOL_MAX_CONTAINERS``, and at least one per core); each container is held to
    its own CPU share and memory, so a class that presses Run at once runs at once, where one
    per core ran a burst of 30 two at a time. With the local backend, two per core: a step
    spends part of its time starting (bubblewrap's namespaces, exec, pipes) rather than
    computing, and runs go at a lower priority than the server (sandbox/launcher.py), so the
    server keeps its share either way. Measured with bench/classroom.py on 2 cores: run first
    output p95 528 ms at 2, 307 ms at 4, documents and events unchanged."""
    cores = os.cpu_count() or 2
    if backend == "docker":
        return max(cores, pool_max_containers)
    return 2 * cores


async def select_backend(
    kind: str,
    *,
    maxima: Limits,
    docker_url: str | None = None,
    image_prefix: str = "opencode-classroom",
    pool_size: int = 1,
    pool_budget: PoolBudget | None = None,
    pool_parallel: int = 2,
    local_root: Path | None = None,
    allow_unconfined: bool = False,
) -> Backend:
    """A started backend of ``kind``. Raises ``BackendUnavailable`` when ``docker`` cannot be
    had, and ``ValueError`` for an unknown kind."""
    if kind not in ("auto", "docker", "local"):
        raise ValueError(f"sandbox must be docker, local or auto, not {kind!r}")
    if kind == "local":  # Docker's modules (aiodocker) are not even imported
        local = LocalBackend(maxima=maxima, work_root=local_root, allow_unconfined=allow_unconfined)
        await local.start()
        return local
    from sandbox.docker import DockerBackend

    docker = DockerBackend(
        docker_url,
        image_prefix=image_prefix,
        pool_size=pool_size,
        maxima=maxima,
        pool_budget=pool_budget,
        pool_parallel=pool_parallel,
    )
    if kind == "auto":
        why = await _why_not_docker(docker, docker_url)
        if why is None:
            kind = "docker"
            log.info("sandbox: auto chose Docker (engine reachable, all images present)")
        else:
            kind = "local"
            log.warning("sandbox: auto chose the LOCAL backend because %s", why)
    if kind == "local":
        local = LocalBackend(maxima=maxima, work_root=local_root, allow_unconfined=allow_unconfined)
        await local.start()
        return local
    try:
        await docker.start()
    except BaseException:
        await docker.close()  # a half-started client holds a connection pool
        raise
    return docker


async def _why_not_docker(docker: DockerBackend, url: str | None) -> str | None:
    import aiodocker

    from sandbox.docker import docker_available, docker_client

    if not await docker_available(url):
        return "no Docker engine answers" + (f" at {url}" if url else "")
    missing: list[str] = []
    client = docker_client(url)
    try:
        async with asyncio.timeout(10):
            for language in LANGUAGES.values():
                try:
                    await client.images.inspect(docker.image(language))
                except aiodocker.DockerError:
                    missing.append(docker.image(language))
    except (OSError, TimeoutError) as exc:
        return f"the Docker engine did not list images ({exc})"
    finally:
        await client.close()
    if missing:
        return "these images are missing: " + ", ".join(missing)
    return None


__all__ = ["BackendUnavailable", "Kind", "select_backend"]
