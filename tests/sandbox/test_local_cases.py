"""A Python run's cases on the local backend under bubblewrap: one step whose pid 1 is Python's
main process, each case forked from it (sandbox/local_cases.py). A case shows what it shows
as a step of its own, keeps the local backend's verdicts, and cannot reach the main process
or the nonce."""

from __future__ import annotations

import asyncio
import dataclasses
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sandbox import local_cases, local_run
from sandbox.child import Child
from sandbox.languages import LANGUAGES
from sandbox.local import LocalBackend
from sandbox.model import Case, Limits, RunRequest, RunResult, RunStatus
from tests.sandbox.test_local import make_backend, work_root  # noqa: F401 (a fixture)
from tests.sandbox.test_python_main import BEHAVIOURS, NONCE, PROGRAM, SEARCH, STDIN


@pytest.fixture
async def bwrapped(work_root: Path) -> AsyncIterator[LocalBackend]:  # noqa: F811
    backend = await make_backend("bwrap", work_root)
    assert backend.forks_python_cases  # bubblewrap works, and python3 is 3.9 or newer
    yield backend
    await backend.close()


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, ...]]]:
    """The argv of every step started from now on (the spawn itself unchanged)."""
    started: list[tuple[str, ...]] = []
    real = Child.spawn.__func__  # type: ignore[attr-defined]

    async def spawn(cls: type[Child], argv: list[str], **kwargs: object) -> Child:
        started.append(tuple(argv))
        return await real(cls, argv, **kwargs)

    monkeypatch.setattr(Child, "spawn", classmethod(spawn))
    yield started


def one_step_per_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_run, "forks_cases", lambda *_: False)


async def graded(backend: LocalBackend, files: dict[str, str], cases: tuple[Case, ...],
                 limits: Limits | None = None) -> RunResult:  # fmt: skip
    execution = await backend.run(RunRequest("python", files, limits=limits, cases=cases))
    async with asyncio.timeout(120):
        return await execution.wait()


def test_only_a_python_run_with_cases_on_an_able_backend_forks_them() -> None:
    python, request = LANGUAGES["python"], RunRequest("python", {}, cases=(Case(),))
    assert local_cases.forks_cases(python, request, True)
    assert not local_cases.forks_cases(python, request, False)
    assert not local_cases.forks_cases(python, RunRequest("python", {}), True)
    javascript = LANGUAGES["javascript"]
    assert not local_cases.forks_cases(
        javascript, RunRequest("javascript", {}, cases=(Case(),)), True
    )


async def test_a_backend_is_able_only_with_bubblewrap(work_root: Path) -> None:  # noqa: F811
    """kill(-1) needs the pid namespace: without bubblewrap every case is a step of its own."""
    bare = await make_backend("none", work_root)
    try:
        assert not bare.forks_python_cases
    finally:
        await bare.close()


async def test_forked_cases_show_what_a_step_per_case_shows(
    bwrapped: LocalBackend, steps: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"main.py": PROGRAM}
    forked_args = [(what, "forked") if what == "recursion" else (what,) for what in BEHAVIOURS]
    limits = Limits(time_seconds=10)
    result = await graded(bwrapped, files, tuple(Case(STDIN, args) for args in forked_args), limits)
    forked_steps = len(steps)
    one_step_per_case(monkeypatch)
    alone = await graded(
        bwrapped, files, tuple(Case(STDIN, (what,)) for what in BEHAVIOURS), limits
    )
    assert forked_steps == 1 and len(steps) == 1 + len(BEHAVIOURS)
    assert steps[0][-5:-1] == ("python3", "-u", "-c", LANGUAGES["python"].main[3])
    assert steps[0][-1] == "pid1"
    assert result.status is alone.status is RunStatus.OK
    for what, case, own in zip(BEHAVIOURS, result.cases, alone.cases, strict=True):
        assert not case.tampered, what
        assert (case.stdout, case.stderr, case.exit_code) == (
            own.stdout,
            own.stderr,
            own.exit_code,
        ), what
        assert case.status is own.status, what
    echo = result.cases[0]
    assert echo.stdout.startswith("6 ['main.py', 'echo'] __main__ /work/main.py"), echo
    assert echo.cpu_ms is not None and echo.cpu_ms > 0
    by_name = dict(zip(BEHAVIOURS, result.cases, strict=True))
    assert [by_name[w].exit_code for w in ("exit-message", "exit-3", "exit-257")] == [1, 3, 1]
    assert by_name["keyboard"].exit_code == 130 and by_name["keyboard"].signal == "SIGINT"


VERDICTS = """\
import sys
what = sys.argv[1]
if what == "loop":
    while True:
        pass
if what == "memory":
    hoard = bytearray(1 << 30)
if what == "fail":
    sys.exit(4)
print(what, input())
"""


async def test_each_case_keeps_its_own_verdict(
    bwrapped: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = tuple(
        Case(f"{n}\n", (what,)) for n, what in enumerate(["loop", "memory", "fail", "ok"])
    )
    limits = Limits(time_seconds=1)
    forked = await graded(bwrapped, {"main.py": VERDICTS}, cases, limits)
    one_step_per_case(monkeypatch)
    alone = await graded(bwrapped, {"main.py": VERDICTS}, cases, limits)
    expected = [RunStatus.TIMEOUT, RunStatus.MEMORY_LIMIT, RunStatus.RUNTIME_ERROR, RunStatus.OK]
    assert [c.status for c in forked.cases] == expected, forked
    assert [c.status for c in alone.cases] == expected, alone
    assert forked.cases[3].stdout == alone.cases[3].stdout == "ok 3\n"
    assert forked.cases[2].exit_code == 4
    # Stopped at its own limit (1 s), not by the step's timer (a case's limit and a grace: 3 s).
    assert 900 <= forked.cases[0].wall_ms < 2900 and (forked.cases[0].cpu_ms or 0) > 500


async def test_a_case_past_the_output_cap_ends_the_run_as_on_docker(
    bwrapped: LocalBackend,
) -> None:
    flood = "import sys\nif sys.argv[1] == '1':\n    while True:\n        print('x' * 1000)\n"
    flood += "print('fine')\n"
    cases = tuple(Case(args=(str(n),)) for n in range(3))
    result = await graded(bwrapped, {"main.py": flood}, cases, Limits(output_bytes=20_000))
    first, second, third = result.cases
    assert first.status is RunStatus.OK and first.stdout == "fine\n"
    assert second.status is RunStatus.OUTPUT_LIMIT and second.stdout.startswith("x" * 1000)
    assert third.status is RunStatus.RUNTIME_ERROR and third.message.startswith("did not run")


HOSTILE = """\
import os, signal, sys
parent = os.getppid()
if sys.argv[1] == "0":
    for name in ("mem", "environ", "fd/3"):
        try:
            open(f"/proc/{parent}/{name}", "rb").read(64)
            print(name, "readable")
        except OSError as exc:
            print(name, type(exc).__name__)
    print("the cases' inputs:", os.path.exists(".cases"), "mine:", input())
    for number in (signal.SIGSTOP, signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
        os.kill(parent, number)
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:  # an orphan, out of the case's session, that would outlive it
        os.setsid()
        with open("orphan.pid", "w") as file:
            file.write(str(os.getpid()))
        os.write(ready_w, b"+")
        signal.pause()
    os.read(ready_r, 1)
else:
    orphan = open("orphan.pid").read()
    print("orphan alive:", os.path.exists(f"/proc/{orphan}"))
print("case", sys.argv[1], "parent", parent)
"""


async def test_a_case_can_neither_read_nor_stop_nor_kill_the_main_process_nor_read_other_inputs(
    bwrapped: LocalBackend,
) -> None:
    cases = (Case("secret 0\n", ("0",)), Case("secret 1\n", ("1",)))
    result = await graded(bwrapped, {"main.py": HOSTILE}, cases)
    first, second = result.cases
    assert first.status is RunStatus.OK and first.stdout.splitlines() == [
        "mem PermissionError",
        "environ PermissionError",
        "fd/3 PermissionError",
        "the cases' inputs: False mine: secret 0",
        "case 0 parent 1",
    ], first
    # Stopped and killed from inside its namespace, the main process went on: the next case
    # ran, and the first case's orphan was gone (killed and reaped) before it started.
    assert second.status is RunStatus.OK, second
    assert second.stdout == "orphan alive: False\ncase 1 parent 1\n", second


async def test_a_case_finds_the_nonce_nowhere(
    bwrapped: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_cases, "secrets", types.SimpleNamespace(token_hex=lambda _: NONCE))
    halves = (NONCE[:8], NONCE[8:])
    # The second case holds the nonce in its own argv: the search can find it.
    cases = (Case(args=halves), Case(args=(*halves, NONCE)))
    result = await graded(bwrapped, {"main.py": SEARCH}, cases)
    assert [c.stdout for c in result.cases] == [
        "mine none parent PermissionError\n",
        "mine found parent PermissionError\n",
    ], result


async def test_a_payload_the_main_process_refuses_is_an_internal_error(
    bwrapped: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = LANGUAGES["python"]
    monkeypatch.setitem(
        LANGUAGES, "python", dataclasses.replace(python, run=("python3", "{entry}"))
    )
    result = await graded(bwrapped, {"main.py": "print('never')\n"}, (Case(), Case()))
    assert result.status is RunStatus.INTERNAL_ERROR and not result.cases, result
    assert "python3 -u programs only" in result.message


async def test_more_cases_than_descriptors_each_read_their_own_input(
    bwrapped: LocalBackend,
) -> None:
    """Past the descriptor limit the inputs are not all held open: each is opened as its case
    starts (and stays a file)."""
    cases = tuple(Case(f"{n}\n") for n in range(40))
    program = "import os\nprint(input(), os.path.exists('.cases'))\n"
    result = await graded(bwrapped, {"main.py": program}, cases, Limits(nofile=32))
    assert [c.stdout for c in result.cases] == [f"{n} True\n" for n in range(40)], result
    few = await graded(bwrapped, {"main.py": program}, cases[:3], Limits(nofile=32))
    assert [c.stdout for c in few.cases] == [f"{n} False\n" for n in range(3)], few
