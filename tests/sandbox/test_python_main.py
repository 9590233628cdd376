"""A Python container's main process (sandbox/python_main.py) in the real image: a run or a
case forked from it shows what a fresh ``python3 -u main.py`` (its exec mode's start) shows,
and the program can neither take it over nor find the nonce."""

from __future__ import annotations

import asyncio
import dataclasses
import types

import pytest

from sandbox import docker_run, python_main, wrapper
from sandbox.docker import container_config
from sandbox.languages import LANGUAGES
from sandbox.model import Case, Limits, RunRequest, RunResult, RunStatus
from tests.sandbox.docker_support import docker_backend, run

pytestmark = pytest.mark.docker

# One program, one behaviour per first argument: each is run as a case of one graded run and
# as a plain run of its own, and the two must agree byte for byte.
PROGRAM = '''\
"""A module docstring."""
import sys

def deep(n):
    return deep(n + 1) if n < 40 else int("not a number")

what = sys.argv[1]
if what == "echo":
    import __main__
    total = sum(int(line) for line in sys.stdin)
    print(total, sys.argv, __name__, __file__, __doc__, sys.path[0], __spec__)
    print(type(__loader__).__name__, __main__.__dict__ is globals(), "é", sys.stdout.encoding)
    print(input.__module__, sys.getrecursionlimit(), tuple(sys.flags), sorted(globals()))
    import os
    print("descriptors", sorted(os.listdir("/proc/self/fd")))
elif what == "raise":
    deep(0)
elif what == "chained":
    try:
        {}["key"]
    except KeyError:
        raise RuntimeError("while handling")
elif what == "exit-message":
    print("out")
    sys.exit("bye")
elif what == "exit-3":
    sys.exit(3)
elif what == "exit-257":
    sys.exit(257)
elif what == "site-exit":
    exit()
elif what == "keyboard":
    raise KeyboardInterrupt
elif what == "threads":
    import atexit, threading
    atexit.register(print, "atexit ran")
    said = threading.Event()
    threading.Thread(target=lambda: said.wait() and print("thread finished")).start()
    print("main finished")
    said.set()
elif what == "objects":
    import dataclasses, pickle
    @dataclasses.dataclass
    class Point:
        x: "int"
        y: int = 0
    print(pickle.loads(pickle.dumps(Point(1, 2))), dataclasses.fields(Point)[0].type)
elif what == "recursion":
    def down(n):
        try:
            return down(n + 1)
        except RecursionError:
            return n
    print(down(0) + 2 * (sys.argv[2:] == ["forked"]))
'''
BEHAVIOURS = (
    "echo", "raise", "chained", "exit-message", "exit-3", "exit-257", "site-exit", "keyboard",
    "threads", "objects", "recursion",
)  # fmt: skip
STDIN = "1\n2\n3\n"


def test_every_container_runs_the_main_process_python_forking_the_others_starting() -> None:
    python = LANGUAGES["python"]
    assert python.main[:3] == ("python3", "-u", "-c") and "def main()" in python.main[3]
    assert container_config("img", python, python.limits, {})["Cmd"] == list(python.main)
    for name, lang in LANGUAGES.items():
        if name != "python":
            assert not lang.forks
            assert lang.main == ("python3", "-I", "-S", "-c", python.main[3], "exec")
            assert container_config("img", lang, lang.limits, {})["Cmd"] == list(lang.main)
    shared = ("WORKDIR", "CASES_DIR", "BAD_PAYLOAD", "UNPACK_FAILED")
    assert [getattr(python_main, n) for n in shared] == [getattr(wrapper, n) for n in shared]


@pytest.fixture
def fresh_start(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """Switches Python's containers between forking each run and case from their main process
    and starting ``python3 -u main.py`` afresh for every run and case (exec mode)."""
    python = LANGUAGES["python"]
    state = types.SimpleNamespace()

    def use(fresh: bool) -> None:
        monkeypatch.setitem(
            LANGUAGES, "python", dataclasses.replace(python, forks=False) if fresh else python
        )

    state.use = use
    return state


async def plain_runs(
    backend: object, files: dict[str, str], args: list[tuple[str, ...]]
) -> list[RunResult]:
    limits = Limits(time_seconds=10)
    requests = [RunRequest("python", files, STDIN, a, limits) for a in args]
    return [result for _, result in await asyncio.gather(*(run(backend, r) for r in requests))]  # type: ignore[arg-type]


async def test_a_forked_run_or_case_shows_what_a_fresh_start_shows(
    fresh_start: types.SimpleNamespace,
) -> None:
    files = {"main.py": PROGRAM}
    # A forked program's code starts two levels deeper than a fresh start's (the main
    # process's top level, and its exec): it reaches two levels less of recursion, which it
    # adds back.
    forked = [(what, "forked") if what == "recursion" else (what,) for what in BEHAVIOURS]
    cases = tuple(Case(stdin=STDIN, args=args) for args in forked)
    async with docker_backend() as backend:
        fresh_start.use(True)
        fresh = await plain_runs(backend, files, [(what,) for what in BEHAVIOURS])
        fresh_start.use(False)
        plain = await plain_runs(backend, files, forked)
        _, graded = await run(
            backend, RunRequest("python", files, limits=Limits(time_seconds=10), cases=cases)
        )
    assert len(graded.cases) == len(BEHAVIOURS)
    for what, case, alone, start in zip(BEHAVIOURS, graded.cases, plain, fresh, strict=True):
        assert not case.tampered, what
        expected = (start.stdout, start.stderr, start.exit_code)
        assert (alone.stdout, alone.stderr, alone.exit_code) == expected, what
        assert (case.stdout, case.stderr, case.exit_code) == expected, what
    by_name = dict(zip(BEHAVIOURS, graded.cases, strict=True))
    echo = by_name["echo"]
    assert echo.stdout.startswith("6 ['main.py', 'echo'] __main__ /work/main.py"), echo
    assert echo.exit_code == 0 and "descriptors ['0', '1', '2', '3']" in echo.stdout, echo
    assert by_name["raise"].stderr.startswith('Traceback (most recent call last):\n  File "/work')
    assert "ValueError" in by_name["raise"].stderr and "<string>" not in by_name["raise"].stderr
    assert [by_name[w].exit_code for w in ("exit-message", "exit-3", "exit-257")] == [1, 3, 1]
    assert by_name["keyboard"].exit_code == 130 and by_name["keyboard"].signal == "SIGINT"
    assert by_name["threads"].stdout.split()[-4:] == ["thread", "finished", "atexit", "ran"]


async def test_a_syntax_error_reads_as_it_does_in_a_fresh_start(
    fresh_start: types.SimpleNamespace,
) -> None:
    files = {"main.py": "print('a'\n"}
    async with docker_backend() as backend:
        fresh_start.use(True)
        _, start = await run(backend, RunRequest("python", files))
        fresh_start.use(False)
        _, graded = await run(backend, RunRequest("python", files, cases=(Case(),)))
        _, alone = await run(backend, RunRequest("python", files))
    (case,) = graded.cases
    assert case.status is RunStatus.RUNTIME_ERROR and case.exit_code == alone.exit_code == 1
    assert case.stderr == alone.stderr == start.stderr and "SyntaxError" in case.stderr


HOSTILE = """\
import os, re, signal, sys
case = sys.argv[1]
runner = os.getppid()
if case == "0":
    for name in ("mem", "environ"):
        try:
            open(f"/proc/{runner}/{name}", "rb").read(64)
            print(name, "readable")
        except OSError as exc:
            print(name, type(exc).__name__)
    try:
        print("its descriptors", os.listdir(f"/proc/{runner}/fd"))
    except OSError as exc:
        print("its descriptors", type(exc).__name__)
    print("the cases' inputs:", os.path.exists(".cases"))
    seen = open("/proc/self/environ", "rb").read() + open("/proc/self/cmdline", "rb").read()
    print("a nonce in my environment or argv:", bool(re.search(rb"\\b[0-9a-f]{16}\\b", seen)))
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        os.kill(runner, number)
if case == "1":
    os.kill(runner, signal.SIGSTOP)
    os.kill(runner, signal.SIGKILL)
    print("runner", runner, "alive", os.path.exists(f"/proc/{runner}"))
print("case", case)
"""


async def test_a_case_can_neither_read_nor_interrupt_nor_kill_the_main_process() -> None:
    cases = tuple(Case(args=(str(n),)) for n in range(3))
    async with docker_backend() as backend:
        _, result = await run(backend, RunRequest("python", {"main.py": HOSTILE}, cases=cases))
    first, second, third = result.cases
    assert first.status is RunStatus.OK and first.stdout.splitlines() == [
        "mem PermissionError",
        "environ PermissionError",
        "its descriptors PermissionError",
        "the cases' inputs: False",
        "a nonce in my environment or argv: False",
        "case 0",
    ]
    # The four signals are ignored: case 1 runs. The main process is the container's pid 1,
    # which takes no SIGSTOP or SIGKILL from inside: case 2 runs too.
    assert second.status is RunStatus.OK and second.stdout == "runner 1 alive True\ncase 1\n"
    assert third.status is RunStatus.OK and third.stdout == "case 2\n"
    assert result.status is RunStatus.OK


NONCE = "5eed0123456789ab"
# Looks for the nonce in the memory of a process, in two halves, so that the search itself
# never puts the nonce in memory (and stops at the first hit: no copy of a region holding it
# exists before then).
SEARCH = """\
import os, sys
low_half, high_half = sys.argv[1].encode(), sys.argv[2].encode()

def search(pid):
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", 0)
    except OSError as exc:
        return type(exc).__name__
    for line in maps:
        span, perms = line.split()[:2]
        if "r" not in perms or line.endswith(("[vvar]", "[vsyscall]")):
            continue
        low, high = (int(x, 16) for x in span.split("-"))
        try:
            mem.seek(low)
            data = mem.read(high - low)
        except (OSError, ValueError):
            continue
        at = data.find(low_half)
        while at >= 0:
            if data[at + 8 : at + 16] == high_half:
                return "found"
            at = data.find(low_half, at + 1)
    return "none"

print("mine", search("self"), "parent", search(os.getppid()))
"""


async def test_the_program_finds_the_nonce_nowhere(
    fresh_start: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_run, "secrets", types.SimpleNamespace(token_hex=lambda _: NONCE))
    files, halves = {"main.py": SEARCH}, (NONCE[:8], NONCE[8:])
    async with docker_backend() as backend:
        _, alone = await run(backend, RunRequest("python", files, args=halves))
        # The second case holds the nonce in its own argv: the search can find it.
        cases = (Case(args=halves), Case(args=(*halves, NONCE)))
        _, graded = await run(backend, RunRequest("python", files, cases=cases))
        fresh_start.use(True)  # exec mode: the main process starts python3 afresh
        _, started = await run(backend, RunRequest("python", files, args=halves))
    nowhere = "mine none parent PermissionError\n"
    assert alone.stdout == graded.cases[0].stdout == started.stdout == nowhere
    assert graded.cases[1].stdout == "mine found parent PermissionError\n"
