"""Python's case loop (sandbox/case_runner.py) in the real image: a case forked from one
interpreter shows what a fresh ``python3 -u main.py`` shows, and a case cannot take it over."""

from __future__ import annotations

import pytest

from sandbox.languages import LANGUAGES
from sandbox.model import Case, Limits, RunRequest, RunStatus
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
    print(input.__module__, sys.getrecursionlimit(), sys.flags.optimize)
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
    print(down(0) + 2 * (sys.argv[2:] == ["graded"]))
'''
BEHAVIOURS = (
    "echo", "raise", "chained", "exit-message", "exit-3", "exit-257", "site-exit", "keyboard",
    "threads", "objects", "recursion",
)  # fmt: skip
STDIN = "1\n2\n3\n"


def test_python_brings_its_own_case_loop_and_the_others_do_not() -> None:
    python = LANGUAGES["python"]
    argv = python.case_runner_argv(["util.py", "main.py"])
    assert argv == ("python3", "-u", ".cases/run.py", "main.py")
    assert "def main()" in python.case_runner_files[".cases/run.py"]
    assert all(not lang.case_runner for name, lang in LANGUAGES.items() if name != "python")


async def test_a_forked_case_shows_what_a_fresh_start_shows() -> None:
    files = {"main.py": PROGRAM}
    limits = Limits(time_seconds=10)
    # A forked case's code starts two levels deeper than a fresh start's (the case loop's own
    # top level, and its exec): it reaches two levels less of recursion, which it adds back.
    cases = tuple(
        Case(stdin=STDIN, args=(what, "graded") if what == "recursion" else (what,))
        for what in BEHAVIOURS
    )
    async with docker_backend() as backend:
        _, graded = await run(backend, RunRequest("python", files, limits=limits, cases=cases))
        plain = [
            (await run(backend, RunRequest("python", files, STDIN, (what,), limits)))[1]
            for what in BEHAVIOURS
        ]
    assert len(graded.cases) == len(BEHAVIOURS)
    for what, case, alone in zip(BEHAVIOURS, graded.cases, plain, strict=True):
        assert not case.tampered, what
        assert (case.stdout, case.stderr, case.exit_code) == (
            alone.stdout,
            alone.stderr,
            alone.exit_code,
        ), what
    by_name = dict(zip(BEHAVIOURS, graded.cases, strict=True))
    echo = by_name["echo"]
    assert echo.stdout.startswith("6 ['main.py', 'echo'] __main__ /work/main.py"), echo
    assert echo.exit_code == 0 and "descriptors ['0', '1', '2', '3']" in echo.stdout, echo
    assert by_name["raise"].stderr.startswith('Traceback (most recent call last):\n  File "/work')
    assert "ValueError" in by_name["raise"].stderr and "run.py" not in by_name["raise"].stderr
    assert [by_name[w].exit_code for w in ("exit-message", "exit-3", "exit-257")] == [1, 3, 1]
    assert by_name["keyboard"].exit_code == 130 and by_name["keyboard"].signal == "SIGINT"
    assert by_name["threads"].stdout.split()[-4:] == ["thread", "finished", "atexit", "ran"]


async def test_a_syntax_error_reads_as_it_does_in_a_fresh_start() -> None:
    files = {"main.py": "print('a'\n"}
    async with docker_backend() as backend:
        _, graded = await run(backend, RunRequest("python", files, cases=(Case(),)))
        _, alone = await run(backend, RunRequest("python", files))
    (case,) = graded.cases
    assert case.status is RunStatus.RUNTIME_ERROR and case.exit_code == alone.exit_code == 1
    assert case.stderr == alone.stderr and "SyntaxError" in case.stderr


HOSTILE = """\
import os, re, sys
case = sys.argv[1]
runner = os.getppid()
if case == "0":
    for name in ("mem", "environ"):
        try:
            open(f"/proc/{runner}/{name}", "rb").read(64)
            print(name, "readable")
        except OSError as exc:
            print(name, type(exc).__name__)
    seen = open("/proc/self/environ", "rb").read() + open("/proc/self/cmdline", "rb").read()
    print("a nonce in my environment or argv:", bool(re.search(rb"\\b[0-9a-f]{16}\\b", seen)))
if case == "1":
    print("killing the runner", flush=True)
    os.kill(runner, 9)
print("case", case)
"""


async def test_a_case_cannot_read_the_runner_and_killing_it_fails_the_rest() -> None:
    cases = tuple(Case(args=(str(n),)) for n in range(3))
    async with docker_backend() as backend:
        _, result = await run(backend, RunRequest("python", {"main.py": HOSTILE}, cases=cases))
    first, second, third = result.cases
    assert first.status is RunStatus.OK and first.stdout.splitlines() == [
        "mem PermissionError",
        "environ PermissionError",
        "a nonce in my environment or argv: False",
        "case 0",
    ]
    assert second.status is not RunStatus.OK and second.exit_code is None
    assert third.status is not RunStatus.OK and third.message.startswith("did not run")
    assert result.status is not RunStatus.OK
