"""Per-case isolation of a grading run: every case its own process, nothing of one case alive
when the next starts, so student code in one case cannot speak for another."""

from __future__ import annotations

import pytest

from sandbox.local import LocalBackend
from sandbox.model import Case, Limits, RunRequest, RunStatus
from tests.sandbox.docker_support import collect, docker_backend

# Case 0 leaves a child behind that waits, then prints into whatever case is running.
LINGER = """\
import os, sys, time
case = sys.argv[1]
if case == "0" and os.fork() == 0:
    os.setsid()
    time.sleep(1.0)
    print("LEAKED FROM CASE 0", flush=True)
    os._exit(0)
if case == "1":
    time.sleep(2.0)
print("case", case, "pid", os.getpid(), flush=True)
"""
REQUEST = RunRequest(
    "python",
    {"main.py": LINGER},
    limits=Limits(time_seconds=5),
    cases=(Case(args=("0",)), Case(args=("1",)), Case(args=("2",))),
)


def check(cases: tuple[object, ...]) -> None:
    outputs = [getattr(case, "stdout", "") for case in cases]
    assert [o.split(" pid")[0] for o in outputs] == ["case 0", "case 1", "case 2"], outputs
    assert all("LEAKED" not in output for output in outputs)


@pytest.mark.docker
async def test_a_leftover_process_of_one_case_cannot_write_into_the_next_docker() -> None:
    async with docker_backend() as backend:
        _, result = await collect(await backend.run(REQUEST))
    assert result.status is RunStatus.OK and len(result.cases) == 3
    assert all(case.status is RunStatus.OK and not case.tampered for case in result.cases)
    check(result.cases)
    pids = {case.stdout.split("pid ")[1] for case in result.cases}
    assert len(pids) == 3  # three processes


async def test_a_leftover_process_of_one_case_cannot_write_into_the_next_local() -> None:
    backend = LocalBackend()
    await backend.start()
    try:
        if backend.refusal is not None:
            pytest.skip(backend.refusal)  # as root without bubblewrap, say (CI installs it)
        if backend.bwrap is None and not backend.as_root:
            pytest.skip("the local backend kills a case's leftovers only with bubblewrap or root")
        _, result = await collect(await backend.run(REQUEST))
    finally:
        await backend.close()
    assert result.status is RunStatus.OK and len(result.cases) == 3
    check(result.cases)
