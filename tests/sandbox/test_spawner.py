"""Every step of the local backend starts from one launcher process (sandbox/launcher.py,
sandbox/spawner.py) instead of a fresh interpreter each: what that must not change, and what
happens when that launcher dies."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.child import Child
from sandbox.local import LocalBackend
from sandbox.local_run import LocalExecution
from sandbox.model import Chunk, RunRequest, RunStatus
from tests.sandbox.test_local import (
    have,
    make_backend,
    run,
    work_root,  # noqa: F401  (fixture)
)


@pytest.fixture(params=["bwrap", "none"])
async def local(
    request: pytest.FixtureRequest,
    work_root: Path,  # noqa: F811
) -> AsyncIterator[LocalBackend]:
    b = await make_backend(request.param, work_root)
    yield b
    await b.close()


def launcher_pid(backend: LocalBackend) -> int:
    pid = backend.spawner.pid
    assert pid is not None
    return pid


async def test_every_step_starts_from_one_launcher(local: LocalBackend) -> None:
    backend = local
    # A started backend holds no launcher (its bubblewrap probe's has ended): the first
    # run starts the one that stays.
    assert backend.spawner.pid is None
    probes = backend.spawner.started
    for n in range(3):
        _, result = await run(backend, "python", {"main.py": f"print({n} * 2)\n"})
        assert (result.status, result.stdout) == (RunStatus.OK, f"{n * 2}\n"), result
        assert result.exit_code == 0 and result.cpu_ms is not None and result.cpu_ms > 0
    if have("gcc"):  # two steps, compile then run
        source = '#include <stdio.h>\nint main(void){puts("c");return 3;}\n'
        _, compiled = await run(backend, "c", {"main.c": source})
        assert (compiled.status, compiled.exit_code, compiled.stdout) == (
            RunStatus.RUNTIME_ERROR,
            3,
            "c\n",
        ), compiled
    assert backend.spawner.started == probes + 1
    # The launcher is not the server's session: a Ctrl-C at the server's terminal is the
    # server's to act on, not the launcher's. Nor does it hold the server's environment (its
    # secrets), which a step forked from it could read without bubblewrap or a uid.
    launcher = launcher_pid(backend)
    assert os.getsid(launcher) != os.getsid(0)
    environ = await asyncio.to_thread(Path(f"/proc/{launcher}/environ").read_bytes)
    assert environ == b"LANG=C.UTF-8\0"


async def started(backend: LocalBackend, then: str) -> tuple[LocalExecution, AsyncIterator[Chunk]]:
    """An interactive Python run that has printed ``ready`` and goes on with ``then``."""
    code = f"print('ready', flush=True)\n{then}\n"
    request = RunRequest(language="python", files={"main.py": code}, interactive=True)
    execution = await backend.run(request)
    stream = execution.chunks()
    # Unbuffered, print writes "ready" and its newline apart: one chunk or two, by the load.
    said = ""
    async with asyncio.timeout(20):
        while not said.endswith("\n"):
            said += (await anext(stream)).data
    assert said == "ready\n"
    return execution, stream


async def test_a_killed_launcher_is_replaced_and_its_step_still_ends(
    local: LocalBackend,
) -> None:
    backend = local
    execution, stream = await started(backend, "print(input()[::-1])")
    first_launcher = launcher_pid(backend)
    launchers = backend.spawner.started
    os.kill(first_launcher, signal.SIGKILL)
    await execution.write_stdin("abc\n")
    async with asyncio.timeout(20):
        rest = "".join([c.data async for c in stream])
        result = await execution.wait()
    # The step outlived its launcher and told how it ended through its status pipe.
    assert rest == "cba\n"
    assert (result.status, result.exit_code) == (RunStatus.OK, 0), result
    assert result.memory_peak_bytes is not None and result.memory_peak_bytes > 0
    # The next run starts a new launcher.
    _, again = await run(backend, "python", {"main.py": "print(6 * 7)\n"})
    assert (again.status, again.stdout) == (RunStatus.OK, "42\n"), again
    assert backend.spawner.started == launchers + 1
    assert launcher_pid(backend) != first_launcher


async def test_a_step_killed_with_its_launcher_is_reported_killed(
    local: LocalBackend,
) -> None:
    """The whole group dies (a cancel's kill): the launcher's own line says how."""
    backend = local
    execution, _ = await started(backend, "input()")
    launchers = backend.spawner.started
    async with asyncio.timeout(20):
        await execution.cancel()
        result = await execution.wait()
    assert result.status is RunStatus.CANCELLED, result
    _, after = await run(backend, "python", {"main.py": "print('still here')\n"})
    assert after.stdout == "still here\n"
    assert backend.spawner.started == launchers


async def test_the_launcher_ends_with_the_backend(work_root: Path) -> None:  # noqa: F811
    backend = await make_backend("none", work_root)
    _, result = await run(backend, "python", {"main.py": "print(1)\n"})
    assert result.status is RunStatus.OK
    pid = launcher_pid(backend)
    await backend.close()
    assert backend.spawner.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_bad_requests_are_refused_and_the_launcher_serves_on(local: LocalBackend) -> None:
    """A request the launcher cannot take (no command) is refused with its reason; a step that
    cannot start (its directory is gone) fails with a message on its stderr, exit 127; the
    same launcher then starts the next run."""
    backend = local
    said: list[bytes] = []
    with pytest.raises(OSError, match="the sandbox launcher refused: ValueError"):
        await backend.spawner.spawn(
            [], env={}, cwd="/", uid=None, niceness=0, limits="", stdio=(0, 1, 2, 2), pass_fds=()
        )
    launcher = launcher_pid(backend)
    child = await Child.spawn(
        ["/bin/true"],
        env={"PATH": "/usr/bin:/bin"},
        cwd="/no/such/directory",
        rlimits=(),
        uid=None,
        pass_fds=(),
        on_output=lambda stream, data: said.append(data),
        spawner=backend.spawner,
    )
    async with asyncio.timeout(20):
        ended = await child.wait()
    assert ended.returncode == 127
    assert b"sandbox launcher:" in b"".join(said) and b"/no/such/directory" in b"".join(said)
    with pytest.raises(OSError, match="too many files"):
        await backend.spawner.spawn(
            ["/bin/true"], env={}, cwd="/", uid=None, niceness=0, limits="",
            stdio=(0, 1, 2, 2), pass_fds=tuple(range(3, 300)),
        )  # fmt: skip
    _, after = await run(backend, "python", {"main.py": "print('served')\n"})
    assert (after.status, after.stdout) == (RunStatus.OK, "served\n"), after
    assert launcher_pid(backend) == launcher


async def test_a_kill_before_the_step_launcher_leads_its_group_still_kills_it() -> None:
    # A cancel right after the spawn can reach the step launcher before its setsid(): no group
    # of its id exists yet, and the group kill alone hit nothing (the run then went on to its
    # time limit). Here a process that never leads a group stands in for it.
    sleeper = await asyncio.create_subprocess_exec("sleep", "60")
    read_end, write_end = os.pipe()
    os.close(write_end)
    step = Child(sleeper.pid, None, read_end)
    with pytest.raises(ProcessLookupError):
        os.killpg(sleeper.pid, 0)  # not a group leader: the group kill finds nothing
    step.kill()
    assert await asyncio.wait_for(sleeper.wait(), 10) == -signal.SIGKILL
    assert step.killed
    os.close(read_end)
