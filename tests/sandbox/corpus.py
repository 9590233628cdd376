"""The attack corpus, as data: hostile programs and what a sandbox must make of them.

Each :class:`Attack` holds the program (``$name`` placeholders are filled from a
:class:`Target` by :meth:`Attack.request`), the statuses that count as contained, and a check
on the result. ``isolation`` marks cases that only a real isolation layer (the Docker backend,
or bubblewrap) can pass: network, host files, other processes. A runner must also check that
the backend still serves a normal run after every case (see :data:`HELLO`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from string import Template

from sandbox.model import Limits, RunRequest, RunResult, RunStatus

S = RunStatus

# Tight limits keep the corpus fast; each case may widen them.
FAST = Limits(time_seconds=2.0, memory_mb=128, pids=32, disk_mb=16, compile_time_seconds=10.0)

HELLO = RunRequest("python", {"main.py": "print('hello after attack')\n"})
HELLO_OUTPUT = "hello after attack\n"


@dataclass(frozen=True)
class Target:
    """What the test opened on the host, for the program to try to reach or read."""

    port: int  # a TCP listener on 127.0.0.1 of the host
    gateway: str  # the Docker bridge gateway address, with a listener on gateway_port
    gateway_port: int
    secret_name: str  # an environment variable set in the test process only
    secret_value: str
    host_file: str  # a file on the host holding host_token
    host_token: str


Check = Callable[[RunResult, Target], None]


def _no_check(result: RunResult, target: Target) -> None:
    pass


@dataclass(frozen=True)
class Attack:
    name: str
    language: str
    files: dict[str, str]
    expect: frozenset[RunStatus]
    check: Check = _no_check
    stdin: str = ""
    limits: Limits = FAST
    isolation: bool = False
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def request(self, target: Target) -> RunRequest:
        values = {k: str(v) for k, v in target.__dict__.items()}
        files = {n: Template(t).safe_substitute(values) for n, t in self.files.items()}
        return RunRequest(self.language, files, stdin=self.stdin, limits=self.limits)


def _within(seconds: float) -> Check:
    def check(result: RunResult, target: Target) -> None:
        assert result.wall_ms <= seconds * 1000, f"took {result.wall_ms:.0f} ms"

    return check


def _all_blocked(count: int) -> Check:
    def check(result: RunResult, target: Target) -> None:
        assert result.stdout.count("blocked") == count, result.stdout + result.stderr
        assert "REACHED" not in result.stdout, result.stdout

    return check


def _no_secret(result: RunResult, target: Target) -> None:
    assert target.secret_value not in result.stdout + result.stderr
    assert "environ-read" in result.stdout, result.stdout


def _no_host_token(result: RunResult, target: Target) -> None:
    assert target.host_token not in result.stdout + result.stderr
    assert result.stdout.count("try ") == 11, result.stdout + result.stderr
    assert result.stdout.count("denied") == 11, result.stdout


def _output_capped(result: RunResult, target: Target) -> None:
    total = len(result.stdout.encode()) + len(result.stderr.encode())
    assert total <= FAST.output_bytes, total


def _memory_near_limit(result: RunResult, target: Target) -> None:
    if result.memory_peak_bytes is not None:
        assert result.memory_peak_bytes <= (FAST.memory_mb + 8) << 20, result.memory_peak_bytes


def _disk_capped(result: RunResult, target: Target) -> None:
    lines = [line for line in result.stdout.splitlines() if line.startswith("wrote ")]
    assert lines, result.stdout + result.stderr
    written = int(lines[-1].split()[1])
    assert written <= (FAST.disk_mb + 1) << 20, written
    assert "stopped:" in result.stdout, result.stdout


PY_NETWORK = """\
import socket
for host, port in (("127.0.0.1", $port), ("$gateway", $gateway_port)):
    try:
        socket.create_connection((host, port), timeout=1).close()
        print("REACHED", host)
    except OSError as e:
        print("blocked", host, type(e).__name__)
try:
    socket.getaddrinfo("example.com", 80)
    print("REACHED dns")
except OSError as e:
    print("blocked dns", type(e).__name__)
"""

PY_ORPHANS = """\
import os, subprocess, sys
subprocess.Popen(["sleep", "1000"])
subprocess.Popen(["sleep", "1000"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import time
        while True:
            print("orphan still alive", flush=True)
            time.sleep(0.2)
    os._exit(0)
print("main done", flush=True)
"""

PY_SYMLINKS = """\
import os
def attempt(label, fn):
    print("try", label)
    try:
        data = fn()
        print("got", label, str(data)[:200])
    except OSError as e:
        print("denied", label, type(e).__name__)
attempt("proc1-root", lambda: open("/proc/1/root$host_file").read())
os.symlink("/proc/1/root", "r")
attempt("symlink-root", lambda: open("r$host_file").read())
attempt("dotdot", lambda: open("../../..$host_file").read())
attempt("host-path", lambda: open("$host_file").read())
attempt("write-proc1-root", lambda: open("/proc/1/root/etc/evil", "w").write("x"))
attempt("write-etc", lambda: open("/etc/passwd", "a").write("x"))
attempt("write-usr", lambda: open("/usr/evil", "w").write("x"))
attempt("write-root", lambda: open("/evil", "w").write("x"))
attempt("write-tmp", lambda: open("/tmp/evil", "w").write("x"))
attempt("write-dotdot", lambda: open("../evil", "w").write("x"))
attempt("setuid", lambda: os.setuid(0))
"""

PY_DISK = """\
import os
written = 0
try:
    for i in range(1000):
        with open(f"fill{i}", "wb") as f:
            for _ in range(64):
                f.write(b"x" * (1 << 20))
                written += 1 << 20
                print("wrote", written, flush=True)
except OSError as e:
    print("stopped:", type(e).__name__, e.errno)
"""

PY_FILES = """\
import os
handles = []
try:
    while True:
        handles.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    print("open files:", len(handles), type(e).__name__)
"""


def _files_capped(result: RunResult, target: Target) -> None:
    count = int(result.stdout.split()[2])
    assert count < FAST.nofile, result.stdout


ATTACKS: list[Attack] = [
    Attack(
        "fork-bomb-python",
        "python",
        {"main.py": "import os\nwhile True:\n    os.fork()\n"},
        frozenset({S.RUNTIME_ERROR, S.TIMEOUT, S.MEMORY_LIMIT}),
        _within(FAST.time_seconds + 3),
    ),
    Attack(
        "fork-bomb-c",
        "c",
        {"main.c": "#include <unistd.h>\nint main(void){for(;;)fork();}\n"},
        frozenset({S.TIMEOUT, S.RUNTIME_ERROR, S.MEMORY_LIMIT}),
        _within(FAST.time_seconds + 3),
    ),
    Attack(
        "memory-bomb",
        "python",
        {"main.py": "x = []\nwhile True:\n    x.append(bytearray(8 << 20))\n"},
        frozenset({S.MEMORY_LIMIT}),
        _memory_near_limit,
    ),
    Attack(
        "infinite-loop",
        "python",
        {"main.py": "while True:\n    pass\n"},
        frozenset({S.TIMEOUT}),
        _within(FAST.time_seconds + 2),
    ),
    Attack(
        "sleep-without-output",
        "python",
        {"main.py": "import time\ntime.sleep(1000)\n"},
        frozenset({S.TIMEOUT}),
        _within(FAST.time_seconds + 2),
    ),
    Attack(
        "output-flood",
        "python",
        {"main.py": "while True:\n    print('x' * 1000)\n"},
        frozenset({S.OUTPUT_LIMIT}),
        _output_capped,
    ),
    Attack(
        "disk-fill",
        "python",
        {"main.py": PY_DISK},
        frozenset({S.OK}),
        _disk_capped,
        limits=Limits(time_seconds=5.0, memory_mb=128, pids=32, disk_mb=16),
    ),
    Attack(
        "network",
        "python",
        {"main.py": PY_NETWORK},
        frozenset({S.OK}),
        _all_blocked(3),
        isolation=True,
        limits=Limits(time_seconds=5.0, memory_mb=128, pids=32, disk_mb=16),
    ),
    Attack(
        "orphans",
        "python",
        {"main.py": PY_ORPHANS},
        frozenset({S.OK}),
        _within(FAST.time_seconds),
        notes="the runner must also check that no process of the run survives",
    ),
    Attack(
        "server-environment",
        "python",
        {
            "main.py": "import glob, os\nprint(dict(os.environ))\n"
            "for path in glob.glob('/proc/[0-9]*/environ'):\n"
            "    try:\n        print(path, open(path).read())\n"
            "    except OSError as e:\n        print('denied', path, e)\n"
            "print('environ-read')\n"
        },
        frozenset({S.OK}),
        _no_secret,
    ),
    Attack(
        "symlinks-and-writes",
        "python",
        {"main.py": PY_SYMLINKS},
        frozenset({S.OK}),
        _no_host_token,
        isolation=True,
    ),
    Attack("file-descriptors", "python", {"main.py": PY_FILES}, frozenset({S.OK}), _files_capped),
    Attack(
        "kill-everything",
        "python",
        {"main.py": "import os, signal\nos.kill(-1, signal.SIGKILL)\n"},
        frozenset({S.RUNTIME_ERROR}),
        _within(FAST.time_seconds),
    ),
    Attack(
        "include-dev-zero",
        "c",
        {"main.c": '#include "/dev/zero"\nint main(void){return 0;}\n'},
        frozenset({S.COMPILE_ERROR, S.TIMEOUT}),
        _within(FAST.compile_time_seconds + 3),
    ),
    Attack(
        "macro-explosion",
        "c",
        {
            "main.c": "#define A(x) x x x x x x x x x x\n#define B(x) A(A(A(A(x))))\n"
            "#define C(x) B(B(B(x)))\nint main(void){ C(;) return 0; }\n"
        },
        frozenset({S.COMPILE_ERROR, S.TIMEOUT}),
        _within(FAST.compile_time_seconds + 3),
    ),
    Attack(
        "rust-const-eval-loop",
        "rust",
        {
            "main.rs": "const X: u64 = { let mut i: u64 = 0; loop { i = i.wrapping_add(1); } };\n"
            'fn main() { println!("{}", X); }\n'
        },
        frozenset({S.COMPILE_ERROR, S.TIMEOUT}),
        _within(FAST.compile_time_seconds + 3),
        limits=Limits(
            time_seconds=2.0, memory_mb=512, pids=32, disk_mb=64, compile_time_seconds=10.0
        ),
    ),
]
