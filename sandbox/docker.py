"""The Docker backend: one fresh, locked-down container per run, driven through the engine API.

Design note. Code reaches the container through the API only (no bind mount), so a remote
engine works too. A container is created with a read-only root, a size-capped tmpfs work dir
and its main process (:mod:`sandbox.python_main`, uid 10001) waiting on stdin; the run's
payload and files then go in over an attach (see :mod:`sandbox.docker_run`). The main process
is the container's pid 1 (no Docker init): the kernel delivers no signal to a namespace's
pid 1 from inside the namespace unless it has a handler for it, so a program can neither kill
nor stop it, and it reaps every orphan itself. Because the container is started before the
code is known, started containers can wait in a warm pool (:mod:`sandbox.pool`); each is used
once.
Every container carries labels naming the run and the owning process, so :meth:`start` can
remove what a crashed process left behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

import aiodocker
from aiodocker.containers import DockerContainer

from sandbox.demand import PoolBudget
from sandbox.docker_run import RUN_USER, DockerExecution, base_environment
from sandbox.exceptions import BackendUnavailable
from sandbox.languages import LANGUAGES, Language
from sandbox.model import Limits, RunRequest
from sandbox.pool import DEFER_SECONDS, QUIET_SECONDS, Box, WarmPool
from sandbox.validate import check_request
from sandbox.wrapper import WORKDIR

log = logging.getLogger("classroom.sandbox")

LABEL_RUN = "opencode-classroom.run"
LABEL_OWNER = "opencode-classroom.owner"
LABEL_LANGUAGE = "opencode-classroom.language"
MIB = 1 << 20
# A warm container's main process answers its payload within milliseconds, a few hundred under a
# class's burst; a container that died while waiting never does.
ALIVE_CHECK_SECONDS = 0.5
# Ceilings when the operator gives none: time and memory as the settings' defaults; the rest
# so high that each language's own defaults apply.
DEFAULT_MAXIMA = Limits(
    time_seconds=20.0, memory_mb=512, pids=1024, cpus=64.0, disk_mb=4096, nofile=4096,
    compile_time_seconds=60.0,
)  # fmt: skip


def container_config(
    image: str, language: Language, limits: Limits, labels: dict[str, str]
) -> dict[str, Any]:
    """The create-container body: the main process (sandbox/python_main.py) waiting on
    stdin, no network, hard limits, nothing writable but the work dir."""
    memory = limits.memory_mb * MIB
    disk = limits.disk_mb * MIB
    env = {**base_environment(), **language.environment(WORKDIR)}
    return {
        "Image": image,
        "Cmd": list(language.main),
        "User": RUN_USER,
        "WorkingDir": WORKDIR,
        "Env": [f"{k}={v}" for k, v in env.items()],
        "OpenStdin": True,
        "StdinOnce": True,
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": False,
        "Labels": labels,
        "Hostname": "sandbox",
        "NetworkDisabled": True,
        "HostConfig": {
            "NetworkMode": "none",
            "Memory": memory,
            "MemorySwap": memory,
            "PidsLimit": limits.pids,
            "NanoCpus": int(limits.cpus * 1e9),
            "ReadonlyRootfs": True,
            # The only writable place (besides the private /dev/shm); TMPDIR points into it.
            "Tmpfs": {WORKDIR: f"rw,exec,nosuid,nodev,size={disk},uid=10001,gid=10001,mode=0700"},
            "ShmSize": min(disk, 16 * MIB),
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
            "Ulimits": [
                {"Name": "nofile", "Soft": limits.nofile, "Hard": limits.nofile},
                {"Name": "fsize", "Soft": disk, "Hard": disk},
                {"Name": "core", "Soft": 0, "Hard": 0},
            ],
            "Init": False,  # the main process is pid 1: no program can signal it
            "IpcMode": "private",
            "LogConfig": {"Type": "none", "Config": {}},
            "RestartPolicy": {"Name": "no"},
            "AutoRemove": False,
        },
    }


def docker_client(url: str | None) -> aiodocker.Docker:
    """``aiodocker.Docker(url=url)``, with "no engine named anywhere" a ``ValueError`` as its
    documentation says: aiodocker 0.27 fails an ``assert`` instead when ``url`` is None and
    neither ``DOCKER_HOST``, a Docker context nor a socket at a default path names an engine
    (a machine without Docker), which would stop ``python -m server`` instead of choosing the
    local sandbox."""
    try:
        return aiodocker.Docker(url=url)
    except AssertionError as exc:
        raise ValueError("no DOCKER_HOST, Docker context or socket at a default path") from exc


async def docker_available(url: str | None) -> bool:
    """Whether a Docker engine answers at ``url`` (None: the default socket) within 3 s."""
    try:
        docker = docker_client(url)
    except (ValueError, OSError, aiodocker.DockerError):
        return False
    try:
        async with asyncio.timeout(3):
            await docker.version()
        return True
    except (OSError, TimeoutError, aiodocker.DockerError):
        return False
    finally:
        await docker.close()


class DockerBackend:
    """Runs :class:`RunRequest` s in containers; see the module note. Values come in explicitly."""

    name = "docker"

    def __init__(
        self,
        url: str | None = None,
        *,
        image_prefix: str = "opencode-classroom",
        pool_size: int = 1,
        maxima: Limits | None = None,
        pool_languages: Collection[str] | None = None,
        pool_budget: PoolBudget | None = None,
        pool_parallel: int = 2,
        pool_defer_seconds: float = DEFER_SECONDS,
        pool_quiet_seconds: float = QUIET_SECONDS,
        alive_check_seconds: float = ALIVE_CHECK_SECONDS,
    ) -> None:
        self.url = url
        # A run in a pooled container asks the engine whether it is running only when the
        # main process has not said so this long after the payload went in (sandbox/wrapper.py).
        self.alive_check_seconds = alive_check_seconds
        self.alive_checks = 0  # how often it asked (for tests and benches)
        self.image_prefix = image_prefix
        self.maxima = maxima or DEFAULT_MAXIMA
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.pool = WarmPool(
            self.create_box,
            self.discard_box,
            pool_size,
            pool_parallel,
            pool_budget,
            defer_seconds=pool_defer_seconds,
            quiet_seconds=pool_quiet_seconds,
        )
        self.pool_languages = set(pool_languages) if pool_languages is not None else None
        self._docker: aiodocker.Docker | None = None
        self._executions: set[DockerExecution] = set()
        self._retiring = 0  # used containers waiting for the runs in flight (pool rule 4)
        self._images: set[str] = set()
        # For the metrics endpoint: whether each language's image was there when last looked
        # for, and a callback given each container's create + start time in seconds.
        self.images_present: dict[str, bool] = {}
        self.on_container_started: Callable[[float], None] | None = None

    @property
    def docker(self) -> aiodocker.Docker:
        if self._docker is None:
            raise BackendUnavailable("the Docker backend is not started")
        return self._docker

    def image(self, language: Language) -> str:
        return f"{self.image_prefix}-{language.image}:latest"

    def limits_for(self, language: Language, request: RunRequest | None = None) -> Limits:
        """The language's defaults, overridden by the request, capped by the operator's maxima.

        A request field left at the :class:`Limits` default keeps the language's value, so
        ``Limits(time_seconds=2)`` on a Rust run still gets Rust's memory for the compiler.
        """
        limits = language.limits
        if request is not None and request.limits is not None:
            plain = Limits()
            changed = {
                name: value
                for name in Limits.__dataclass_fields__
                if (value := getattr(request.limits, name)) != getattr(plain, name)
            }
            limits = limits.with_overrides(changed)
        return limits.capped(self.maxima)

    async def start(self) -> None:
        try:
            self._docker = docker_client(self.url)
            await self._docker.version()
        except (OSError, ValueError, aiodocker.DockerError) as exc:
            raise BackendUnavailable(f"no Docker engine: {exc}") from exc
        await self.sweep()
        for language in LANGUAGES.values():
            if not await self._has_image(language):
                log.warning(
                    "sandbox image %s is missing; build sandbox/images", self.image(language)
                )
            elif self.pool_languages is None or language.name in self.pool_languages:
                self.pool.add_language(language, self.limits_for(language))
        self.pool.start()

    async def run(self, request: RunRequest) -> DockerExecution:
        language = check_request(request)
        if not await self._has_image(language):
            raise BackendUnavailable(
                f"image {self.image(language)} is missing: run sandbox/images/build-offline.sh"
            )
        limits = self.limits_for(language, request)
        pooled = self.pool.take(language.name, limits)
        execution = DockerExecution(self, language, request, limits, pooled)
        self._executions.add(execution)
        self.pool.run_began()
        execution.begin(on_done=self._run_ended)
        return execution

    def _run_ended(self, execution: DockerExecution) -> None:
        self._executions.discard(execution)
        self.run_over(execution)

    def run_over(self, execution: DockerExecution) -> None:
        """``execution`` no longer counts as in flight for the pool (once; its result is out)."""
        if execution.in_flight:
            execution.in_flight = False
            self.pool.run_ended()

    async def retire_box(self, box: Box) -> None:
        """Remove a container whose run ended well, once the runs in flight have ended (pool
        rule 4): its removal, about 40 ms of the engine's CPU, waits for a quieter moment.
        At most the pool's container budget waits so (a used container still holds what its
        run wrote to its tmpfs); beyond that a container is removed at once."""
        if self._retiring < self.pool.budget.max_containers:
            self._retiring += 1
            try:
                await self.pool.after_runs()
            finally:
                self._retiring -= 1
        await self.discard_box(box)

    async def create_box(self, language: Language, limits: Limits, run_id: str) -> Box:
        """Create and start one container for ``run_id``; removes it again if that fails."""
        labels = {LABEL_RUN: run_id, LABEL_OWNER: self.owner, LABEL_LANGUAGE: language.name}
        config = container_config(self.image(language), language, limits, labels)
        # The engine finishes a create even if we stop listening: when cancelled, wait for
        # it in the background and remove what it made, so no container is left behind.
        began = time.perf_counter()
        task = asyncio.ensure_future(self._create_and_start(config, f"occ-{run_id}"))
        try:
            box = Box(run_id, await asyncio.shield(task))
            if self.on_container_started is not None:
                self.on_container_started(time.perf_counter() - began)
            return box
        except asyncio.CancelledError:
            await asyncio.shield(_remove_when_made(task))
            raise

    async def _create_and_start(self, config: dict[str, Any], name: str) -> DockerContainer:
        container = await self.docker.containers.create(config, name=name)
        try:
            await container.start()
        except BaseException:
            await asyncio.shield(remove(container))
            raise
        return container

    async def discard_box(self, box: Box) -> None:
        if not box.removed:
            box.removed = True
            await remove(box.container)

    async def sweep(self) -> int:
        """Remove containers of ours that a dead process (on this host) left behind."""
        host = socket.gethostname()
        found = await self.docker.containers.list(all=True, filters={"label": [LABEL_OWNER]})
        removed = 0
        for container in found:
            owner = container["Labels"].get(LABEL_OWNER, "")
            owner_host, _, rest = owner.partition(":")
            pid = rest.partition(":")[0]
            if owner_host == host and pid.isdigit() and not _alive(int(pid)):
                await remove(container)
                removed += 1
        if removed:
            log.info("swept %s containers left by a dead process", removed)
        return removed

    async def close(self) -> None:
        self.pool.closing()  # a used container is removed at once from now on
        await asyncio.gather(*(e.cancel() for e in list(self._executions)))
        await self.pool.close()
        if self._docker is not None:
            await self._docker.close()
            self._docker = None

    async def _has_image(self, language: Language) -> bool:
        name = self.image(language)
        if name not in self._images:
            try:
                await self.docker.images.inspect(name)
            except aiodocker.DockerError:
                self.images_present[language.name] = False
                return False
            self._images.add(name)
        self.images_present[language.name] = True
        return True


async def remove(container: DockerContainer) -> None:
    """Kill and remove ``container``; an already-removed one is fine."""
    try:
        await container.delete(force=True)
    except aiodocker.DockerError as exc:
        if exc.status not in (404, 409):
            log.warning("could not remove container %s: %s", container.id[:12], exc)


async def _remove_when_made(task: asyncio.Future[DockerContainer]) -> None:
    try:
        container = await task
    except Exception:
        return  # never made, or already removed by _create_and_start
    await remove(container)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
