"""The uid sweep (sandbox/child.py ``kill_uid``, ``reap_uid``): what a run's uid left behind
is found by its real uid in ``/proc/N/status``, whatever its process group, session or name,
and a zombie (already ended) is not counted. Under bubblewrap the run's end sweeps only after a
step that did not end by itself (sandbox/local_run.py's module note)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox import child, confine
from sandbox.child import Child, _live_uid, kill_uid, reap_uid
from sandbox.local import LocalBackend
from sandbox.model import Case, Limits, RunRequest, RunResult, RunStatus
from sandbox.spawner import Spawner

# Below the local backend's leases (uids 990,000 to 994,095 by default), so this test's sweep
# can never kill the run of a backend leasing uids on this host at the same time.
UID = 989_777

# The host's interpreter, not this venv's (which another uid may not be allowed to reach)
PYTHON = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or PYTHON is None, reason="starting a host python3 as another uid (root)"
)

# A process that leaves its group and session, renames itself after the status file's fields
# (a newline in a name is escaped by the kernel), then waits to be killed.
DISGUISED = (
    "import ctypes, os, sys, time\n"
    "os.setsid()\n"
    "ctypes.CDLL(None).prctl(15, b'x\\nUid:\\t0\\t0', 0, 0, 0)\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)


async def test_a_process_of_the_uid_is_found_and_killed_whatever_it_calls_itself() -> None:
    assert PYTHON is not None
    child = await asyncio.create_subprocess_exec(
        PYTHON, "-c", DISGUISED, user=UID, group=UID, stdout=subprocess.PIPE, cwd="/"
    )
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 30) == b"ready\n"
        assert _live_uid(str(child.pid)) == UID
        assert _live_uid(str(os.getpid())) == os.getuid()
        await reap_uid(UID)
        assert await asyncio.wait_for(child.wait(), 10) == -9
        assert kill_uid(UID) == 0
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


def test_a_zombie_and_a_process_gone_are_not_alive() -> None:
    ended = subprocess.Popen(["true"], user=UID, cwd="/")
    # not waited for yet: a zombie once it ended; its status says so as soon as it has
    os.waitid(os.P_PID, ended.pid, os.WEXITED | os.WNOWAIT)
    assert _live_uid(str(ended.pid)) is None
    assert kill_uid(UID) == 0
    ended.wait()
    assert _live_uid(str(ended.pid)) is None


async def test_without_bubblewrap_a_crashed_holders_processes_are_killed_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sandbox/local_run.py: without bubblewrap a leased uid may still run what a crashed
    holder left; the run kills it before its first step, in a thread (a sweep reads every
    process's status, which on the loop made every socket wait)."""
    assert PYTHON is not None
    # A one-uid lease range of its own, below the default's and beside UID above.
    leftover_uid = UID - 77
    # The run uid must reach its work dir: not under pytest's private tmp_path.
    work_root = Path(tempfile.gettempdir()) / f"classroom-test-{uuid.uuid4().hex[:12]}"
    backend = LocalBackend(
        confinement="none", uid_base=leftover_uid, uid_count=1, work_root=work_root
    )
    await backend.start()
    sweeps: list[str] = []
    real_kill_uid = child.kill_uid

    def watched(uid: int) -> int:
        sweeps.append(threading.current_thread().name)
        return real_kill_uid(uid)

    monkeypatch.setattr(child, "kill_uid", watched)
    monkeypatch.setattr(confine, "kill_uid", watched, raising=False)  # where it swept before
    leftover = await asyncio.create_subprocess_exec(
        PYTHON, "-c", DISGUISED, user=leftover_uid, group=leftover_uid,
        stdout=subprocess.PIPE, cwd="/",
    )  # fmt: skip
    try:
        assert leftover.stdout is not None
        assert await asyncio.wait_for(leftover.stdout.readline(), 30) == b"ready\n"
        execution = await backend.run(
            RunRequest(language="python", files={"main.py": "print('hi')\n"})
        )
        result = await asyncio.wait_for(execution.wait(), 60)
        assert result.status is RunStatus.OK and result.stdout == "hi\n", result
        assert await asyncio.wait_for(leftover.wait(), 10) == -9
        assert sweeps and threading.current_thread().name not in sweeps, sweeps
    finally:
        if leftover.returncode is None:
            leftover.kill()
            await leftover.wait()
        await backend.close()
        shutil.rmtree(work_root, ignore_errors=True)


@pytest.mark.parametrize(
    ("script", "kill", "exited"),
    [
        ("exit 3", False, True),
        ("kill -KILL $$", False, False),
        ("echo; exec sleep 600", True, False),
    ],
    ids=["exits", "dies by a signal", "killed by us"],
)
async def test_a_step_says_whether_its_command_exited_and_whether_it_was_killed(
    script: str, kill: bool, exited: bool
) -> None:
    """What the run's end decides its sweep on: the launcher's word that the command exited
    (under bubblewrap, bwrap after its pid namespace), and whether we killed the step."""
    spawner = Spawner()
    said: asyncio.Queue[bytes] = asyncio.Queue()
    try:
        step = await Child.spawn(
            ["sh", "-c", script],
            env={"PATH": "/usr/bin:/bin"},
            cwd="/",
            rlimits=(),
            uid=None,
            pass_fds=(),
            on_output=lambda stream, data: said.put_nowait(data),
            spawner=spawner,
            sweep_uid=False,
        )
        step.close_stdin()
        async with asyncio.timeout(30):
            if kill:
                await said.get()  # the command runs (a kill before the step's setsid misses)
                step.kill()
            end = await step.wait()
        assert (end.exited, step.killed) == (exited, kill), end
        step.kill()  # after the end: not a kill of the step
        assert step.killed is kill
    finally:
        await spawner.close()


# Two orphans: each forked twice, out of the run's session and group, deaf to SIGTERM and
# SIGHUP, asleep; the program says so once both run.
ORPHANS = (
    "import os, signal, time\n"
    "ready_r, ready_w = os.pipe()\n"
    "for _ in range(2):\n"
    "    if os.fork() == 0:\n"
    "        os.setsid()\n"
    "        if os.fork() == 0:\n"
    "            signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "            signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
    "            os.write(ready_w, b'+')\n"
    "            time.sleep(600)\n"
    "        os._exit(0)\n"
    "ready = b''\n"
    "while len(ready) < 2:\n"
    "    ready += os.read(ready_r, 2)\n"
    "print('orphans run', flush=True)\n"
)


# The bubblewrap backend's one uid, beside the ones above.
BWRAPPED_UID = UID - 78


@pytest.fixture
async def bwrapped() -> AsyncIterator[LocalBackend]:
    """A bubblewrap backend with a one-uid lease range of its own, so no other backend's run
    can take its uid between a run's end and the test's look."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    work_root = Path(tempfile.gettempdir()) / f"classroom-test-{uuid.uuid4().hex[:12]}"
    backend = LocalBackend(
        confinement="bwrap", uid_base=BWRAPPED_UID, uid_count=1, work_root=work_root
    )
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()
        shutil.rmtree(work_root, ignore_errors=True)


def swept_uids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The uids swept from now on (each pass of a sweep once), the sweep itself unchanged."""
    swept: list[int] = []
    real_kill_uid = child.kill_uid

    def watched(uid: int) -> int:
        swept.append(uid)
        return real_kill_uid(uid)

    monkeypatch.setattr(child, "kill_uid", watched)
    return swept


def alive_as(uid: int) -> list[int]:
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _live_uid(pid) == uid]


@pytest.mark.parametrize("cases", [0, 3], ids=["one step", "three cases"])
async def test_under_bubblewrap_steps_that_ended_by_themselves_leave_nothing_to_sweep(
    bwrapped: LocalBackend, monkeypatch: pytest.MonkeyPatch, cases: int
) -> None:
    """When bwrap exits by itself, the kernel has reaped its whole pid namespace, orphans that
    left the session included: nothing of the uid is alive at the result, without a sweep."""
    swept = swept_uids(monkeypatch)
    request = RunRequest(
        language="python", files={"main.py": ORPHANS}, cases=tuple(Case() for _ in range(cases))
    )
    execution = await bwrapped.run(request)
    async with asyncio.timeout(60):
        result = await execution.wait()
    assert execution.uid == BWRAPPED_UID
    assert alive_as(BWRAPPED_UID) == []
    outputs = [c.stdout for c in result.cases] if cases else [result.stdout]
    assert result.status is RunStatus.OK and outputs == ["orphans run\n"] * max(cases, 1), result
    assert BWRAPPED_UID not in swept


async def cancel_once_orphans_run(backend: LocalBackend, request: RunRequest) -> RunResult:
    execution = await backend.run(request)
    said = ""
    async for chunk in execution.chunks():
        said += chunk.data
        if "orphans run" in said:
            await execution.cancel()
    return await execution.wait()


@pytest.mark.parametrize("kill", ["time limit", "output limit", "cancel"])
async def test_under_bubblewrap_a_run_with_a_killed_step_is_swept(
    bwrapped: LocalBackend, monkeypatch: pytest.MonkeyPatch, kill: str
) -> None:
    """A step we killed ends before its pid namespace does (the kernel kills the rest of it
    when it gets to it): the run's end sweeps its uid, and nothing of it is alive at the
    result."""
    swept = swept_uids(monkeypatch)
    tail, limits = {
        "time limit": ("time.sleep(600)\n", Limits(time_seconds=1)),
        "output limit": ("while True:\n    print('x' * 1000)\n", Limits(output_bytes=8192)),
        "cancel": ("time.sleep(600)\n", None),
    }[kill]
    request = RunRequest(language="python", files={"main.py": ORPHANS + tail}, limits=limits)
    async with asyncio.timeout(60):
        if kill == "cancel":
            result = await cancel_once_orphans_run(bwrapped, request)
        else:
            execution = await bwrapped.run(request)
            result = await execution.wait()
    expected = {
        "time limit": RunStatus.TIMEOUT,
        "output limit": RunStatus.OUTPUT_LIMIT,
        "cancel": RunStatus.CANCELLED,
    }[kill]
    assert result.status is expected and result.stdout.startswith("orphans run\n"), result
    assert alive_as(BWRAPPED_UID) == []
    assert BWRAPPED_UID in swept


@pytest.mark.parametrize("kill", ["time limit", "cancel"])
async def test_under_bubblewrap_forked_cases_cut_short_are_swept(
    bwrapped: LocalBackend, monkeypatch: pytest.MonkeyPatch, kill: str
) -> None:
    """A graded Python run's cases share one step (sandbox/local_cases.py). Cancelled in its
    first case, the run is cancelled and the next case did not run; at a case's time limit
    (inside the step) that case timed out and the next one ran. Either way nothing of the
    run's uid, orphans included, is alive at the result."""
    assert bwrapped.forks_python_cases
    swept = swept_uids(monkeypatch)
    request = RunRequest(
        language="python",
        files={"main.py": ORPHANS + "time.sleep(600)\n"},
        limits=Limits(time_seconds=1) if kill == "time limit" else None,
        cases=(Case(), Case()),
    )
    async with asyncio.timeout(60):
        if kill == "cancel":
            result = await cancel_once_orphans_run(bwrapped, request)
        else:
            result = await (await bwrapped.run(request)).wait()
    first, second = result.cases
    assert first.stdout.startswith("orphans run\n"), result
    if kill == "cancel":
        assert result.status is RunStatus.CANCELLED and first.status is RunStatus.CANCELLED
        assert second.message.startswith("did not run")
        assert BWRAPPED_UID in swept  # a step we killed is swept
    else:
        assert result.status is RunStatus.OK and first.status is RunStatus.TIMEOUT
        assert second.status is RunStatus.TIMEOUT and second.stdout.startswith("orphans run")
    assert alive_as(BWRAPPED_UID) == []
