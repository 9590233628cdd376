"""The uid sweep (sandbox/child.py ``kill_uid``, ``reap_uid``): what a run's uid left behind
is found by its real uid in ``/proc/N/status``, whatever its process group, session or name,
and a zombie (already ended) is not counted."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from sandbox import child, confine
from sandbox.child import _live_uid, kill_uid, reap_uid
from sandbox.local import LocalBackend
from sandbox.model import RunRequest, RunStatus

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
