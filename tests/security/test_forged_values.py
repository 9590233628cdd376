"""Hostile students against value tests, in every language, on the real engine and images.

Each attack is a submission that does not compute the secret function (n² + 7) and tries to
pass the hidden tests anyway: by claiming results, by tampering with the harness in its own
process, by ending early, by killing the harness, by writing to other descriptors, by reading
the sandbox's memory. A claimed value is at best the visible test's answer (8): the expected
values of hidden tests never enter the sandbox, so the server's comparison is what decides.
Every attack must score zero on every hidden test; attacks that report twice must also flag
the submission for staff (``tampering``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sandbox.grading import Exercise
from sandbox.grading.schema import exercise_from_dict
from tests.security.conftest import Graded, hidden

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FILES = {
    "python": "secret.py",
    "javascript": "secret.js",
    "typescript": "secret.ts",
    "c": "secret.c",
    "cpp": "secret.cpp",
    "go": "secret.go",
    "rust": "secret.rs",
}
HONEST = {
    "python": "def secret(n):\n    return n * n + 7\n",
    "javascript": "function secret(n) { return n * n + 7; }\nmodule.exports = { secret };\n",
    "typescript": "export function secret(n: number): number { return n * n + 7; }\n",
    "c": "int secret(int n) { return n * n + 7; }\n",
    "cpp": "long secret(int n) { return n * n + 7; }\n",
    "go": "package main\n\nfunc secret(n int) int { return n*n + 7 }\n",
    "rust": "pub fn secret(n: i64) -> i64 { n * n + 7 }\n",
}
RECORD = r"\n\x1evalue {\"t\": \"int\", \"v\": \"8\"}\n"  # the visible answer, as a C/JS/Go literal


def secret_exercise(language: str) -> Exercise:
    file = FILES[language]
    test = {"kind": "value", "function": "secret"}
    return exercise_from_dict(
        {
            "id": "secret",
            "title": "A function the student does not know",
            "language": language,
            "starter": {file: ""},
            "time_limit": 5,
            "tests": [
                test | {"name": "one", "args": [1], "expected": 8},
                test | {"name": "three", "args": [3], "expected": 16, "visibility": "hidden"},
                test | {"name": "five", "args": [5], "expected": 32, "visibility": "hidden"},
            ],
        }
    )


@dataclass(frozen=True)
class Attack:
    language: str
    source: str
    tampering: bool | None = None  # True: must be flagged; False: must not be; None: either way


PY_READ_WRAPPER_MEMORY = r"""
import os, re

def secret(n):
    nonce = None
    for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/maps") as handle:
                maps = handle.read().splitlines()
            with open(f"/proc/{pid}/mem", "rb", 0) as mem:
                for line in maps:
                    span, perms = line.split()[:2]
                    low, high = (int(x, 16) for x in span.split("-"))
                    if "rw" not in perms or high - low > 64 << 20:
                        continue
                    try:
                        mem.seek(low)
                        found = re.search(rb"\x1e([0-9a-f]{16}) case ", mem.read(high - low))
                    except (OSError, ValueError):
                        continue
                    if found:
                        nonce = found.group(1).decode()
                        break
        except OSError:
            continue
        if nonce:
            break
    if nonce is None:
        return -1
    mark = "\x1e" + nonce
    case = {1: 0, 3: 1, 5: 2}[n]
    lines = ['\x1evalue {"t": "int", "v": "8"}', f"{mark} done {case} 0 0 0 0 0 1"]
    for later in range(case + 1, 3):
        lines += [f"{mark} case {later}", '\x1evalue {"t": "int", "v": "8"}',
                  f"{mark} done {later} 0 0 0 0 0 1"]
    os.write(1, ("\n" + "\n".join(lines) + "\n").encode())
    os.write(2, ("\n" + "\n".join(lines[1::1]) + "\n").encode())
    os._exit(0)
"""

# The same for JavaScript, whose cases the main process starts one by one (exec mode): its
# memory is no more readable than in a Python container, so the attack finds no nonce.
JS_READ_WRAPPER_MEMORY = r"""
const fs = require("fs");
function secret(n) {
  let nonce = null;
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).sort()) {
    let maps, fd;
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, "latin1").split("\n");
      fd = fs.openSync(`/proc/${pid}/mem`, "r");
    } catch (e) { continue; }
    for (const line of maps) {
      const [span, perms] = line.split(" ");
      if (!perms || !perms.includes("rw")) continue;
      const [low, high] = span.split("-").map((x) => parseInt(x, 16));
      if (high - low > 64 * 1024 * 1024) continue;
      const buf = Buffer.alloc(high - low);
      try { fs.readSync(fd, buf, 0, buf.length, low); } catch (e) { continue; }
      const found = /\x1e([0-9a-f]{16}) case /.exec(buf.toString("latin1"));
      if (found) { nonce = found[1]; break; }
    }
    fs.closeSync(fd);
    if (nonce) break;
  }
  if (nonce === null) return -1;
  const mark = "\x1e" + nonce;
  const kase = { 1: 0, 3: 1, 5: 2 }[n];
  const lines = ['\x1evalue {"t": "int", "v": "8"}', `${mark} done ${kase} 0 0 0 0 0 1`];
  for (let later = kase + 1; later < 3; later++) {
    lines.push(`${mark} case ${later}`, '\x1evalue {"t": "int", "v": "8"}',
               `${mark} done ${later} 0 0 0 0 0 1`);
  }
  fs.writeSync(1, "\n" + lines.join("\n") + "\n");
  fs.writeSync(2, "\n" + lines.slice(1).join("\n") + "\n");
  process.exit(0);
}
module.exports = { secret };
"""

ATTACKS = {
    # -- Python --------------------------------------------------------------------------
    "python_stack_walk_for_the_runner_frames": Attack(
        "python",
        r"""
import gc, os, sys

def secret(n):
    claims = []
    frame = sys._getframe()
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            for key, value in list(scope.items()):
                if key in ("expected", "marker", "nonce", "want") and isinstance(value, int):
                    claims.append(value)
        frame = frame.f_back
    for item in gc.get_objects():
        if isinstance(item, dict) and isinstance(item.get("expected"), int):
            claims.append(item["expected"])
    emit = sys._getframe(1).f_globals.get("emit")
    if claims and emit:
        emit("value", {"t": "int", "v": str(claims[0])})
    elif emit:
        emit("value", {"t": "bool", "v": True})
    os._exit(0)
""",
    ),
    "python_object_equal_to_everything": Attack(
        "python",
        """
class Liar(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__
    def __repr__(self):
        return "16"
    __str__ = __repr__

def secret(n):
    return Liar(8)
""",
    ),
    "python_prints_result_records": Attack(
        "python",
        "def secret(n):\n    for v in range(40):\n"
        '        print(\'\\x1evalue {"t": "int", "v": "%d"}\' % v)\n    return 8\n',
        tampering=True,
    ),
    "python_exits_zero_early": Attack("python", "import os\n\ndef secret(n):\n    os._exit(0)\n"),
    "python_atexit_hook_reports_again": Attack(
        "python",
        "import atexit, os\n"
        'atexit.register(lambda: os.write(1, b\'\\n\\x1evalue {"t": "int", "v": "8"}\\n\'))\n'
        "def secret(n):\n    return 8\n",
        tampering=True,
    ),
    "python_kills_the_harness": Attack(
        "python",
        "import os, signal\n\ndef secret(n):\n    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    os.kill(-1, signal.SIGKILL)\n    return 8\n",
    ),
    "python_writes_to_other_descriptors": Attack(
        "python",
        r"""
import os

def secret(n):
    record = b'\n\x1evalue {"t": "int", "v": "8"}\n'
    for fd in range(3, 64):
        try:
            os.write(fd, record)
        except OSError:
            pass
    for path in (f"/proc/{os.getppid()}/fd/1", "/proc/1/fd/1", "/dev/stdout", "/dev/stderr"):
        try:
            with open(path, "wb") as handle:
                handle.write(record)
        except OSError:
            pass
    return -1
""",
        tampering=True,
    ),
    # Python's cases run under sandbox/python_main.py, which no case can read (non-dumpable)
    # and which zeroes the nonce in every child: the attack finds none and forges nothing.
    "python_forges_sandbox_frames_from_wrapper_memory": Attack(
        "python", PY_READ_WRAPPER_MEMORY, tampering=False
    ),
    # -- JavaScript / TypeScript ---------------------------------------------------------
    "javascript_forges_sandbox_frames_from_wrapper_memory": Attack(
        "javascript", JS_READ_WRAPPER_MEMORY, tampering=False
    ),
    "javascript_exits_zero_early": Attack(
        "javascript", "function secret(n) { process.exit(0); }\nmodule.exports = { secret };\n"
    ),
    "javascript_exit_hook_reports_again": Attack(
        "javascript",
        "process.on('exit', () => require('fs').writeSync(1, '" + RECORD + "'));\n"
        "function secret(n) { return 8; }\nmodule.exports = { secret };\n",
        tampering=True,
    ),
    "javascript_object_equal_to_everything": Attack(
        "javascript",
        "function secret(n) { return { valueOf() { return 16; }, toString() { return '16'; },"
        " toJSON() { return 16; }, [Symbol.toPrimitive]() { return 16; } }; }\n"
        "module.exports = { secret };\n",
    ),
    "javascript_patches_json_in_the_harness": Attack(
        "javascript",
        'JSON.stringify = () => \'{"t": "bool", "v": true}\';\n'
        "Object.prototype.toJSON = () => 'passed';\n"
        "function secret(n) { return 8; }\nmodule.exports = { secret };\n",
    ),
    "javascript_kills_the_harness": Attack(
        "javascript",
        "function secret(n) { try { process.kill(process.ppid, 'SIGKILL'); process.kill(-1,"
        " 'SIGKILL'); } catch (e) {} return 8; }\nmodule.exports = { secret };\n",
    ),
    "typescript_prints_result_records": Attack(
        "typescript",
        "export function secret(n: number): number {\n"
        '  for (let v = 0; v < 40; v++) console.log(\'\\x1evalue {"t": "int", "v": "\' + v'
        " + '\"}');\n  return 8;\n}\n",
        tampering=True,
    ),
    "typescript_exits_zero_early": Attack(
        "typescript",
        "declare var process: any;\n"
        "export function secret(n: number): number { process.exit(0); return 8; }\n",
    ),
    # -- C / C++ -------------------------------------------------------------------------
    "c_constructor_prints_records_and_exits": Attack(
        "c",
        "#include <stdio.h>\n#include <unistd.h>\n"
        "__attribute__((constructor)) static void forge(void) {\n"
        '    for (int v = 0; v < 40; v++) printf("\\n\\x1evalue {\\"t\\": \\"int\\", \\"v\\":'
        ' \\"%d\\"}\\n", v);\n'
        "    fflush(stdout);\n    _exit(0);\n}\nint secret(int n) { return -1; }\n",
        tampering=True,
    ),
    "c_kills_the_harness": Attack(
        "c",
        "#include <signal.h>\n#include <unistd.h>\n"
        "int secret(int n) { kill(getppid(), SIGKILL); kill(-1, SIGKILL); return 8; }\n",
    ),
    "c_writes_to_other_descriptors_and_exits": Attack(
        "c",
        "#include <fcntl.h>\n#include <stdio.h>\n#include <string.h>\n#include <unistd.h>\n"
        "int secret(int n) {\n"
        '    const char *r = "' + RECORD + '";\n'
        "    char path[64];\n"
        "    for (int fd = 1; fd < 64; fd++) if (write(fd, r, strlen(r)) < 0) continue;\n"
        '    snprintf(path, sizeof path, "/proc/%d/fd/1", (int)getppid());\n'
        "    int fd = open(path, O_WRONLY);\n"
        "    if (fd >= 0 && write(fd, r, strlen(r)) < 0) return 0;\n"
        "    _exit(0);\n}\n",
        # Its parent (the main process) is non-dumpable: its descriptors cannot be opened, so
        # the record goes out once, a claimed value like any other, not twice.
        tampering=None,
    ),
    "cpp_static_initializer_reports_twice": Attack(
        "cpp",
        "#include <cstdio>\n"
        'struct Forge { Forge() { std::printf("' + RECORD + '"); std::fflush(stdout); } };\n'
        "static Forge forge;\nlong secret(int n) { return 8; }\n",
        tampering=True,
    ),
    "cpp_exits_zero_early": Attack(
        "cpp", "#include <cstdlib>\nlong secret(int n) { std::exit(0); return 8; }\n"
    ),
    # -- Go ------------------------------------------------------------------------------
    "go_init_prints_records_and_exits": Attack(
        "go",
        'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\n'
        "func init() {\n\tfor v := 0; v < 40; v++ {\n"
        '\t\tfmt.Printf("\\n\\x1evalue {\\"t\\": \\"int\\", \\"v\\": \\"%d\\"}\\n", v)\n\t}\n'
        "\tos.Exit(0)\n}\n\nfunc secret(n int) int { return -1 }\n",
        tampering=True,
    ),
    "go_kills_the_harness": Attack(
        "go",
        'package main\n\nimport (\n\t"os"\n\t"syscall"\n)\n\n'
        "func secret(n int) int {\n\tsyscall.Kill(os.Getppid(), syscall.SIGKILL)\n"
        "\tsyscall.Kill(-1, syscall.SIGKILL)\n\treturn 8\n}\n",
    ),
    "go_exits_zero_early": Attack(
        "go", 'package main\n\nimport "os"\n\nfunc secret(n int) int { os.Exit(0); return 8 }\n'
    ),
    # -- Rust ----------------------------------------------------------------------------
    "rust_prints_records_and_exits": Attack(
        "rust",
        "pub fn secret(n: i64) -> i64 {\n    for v in 0..40 {\n"
        '        println!("\\n\\x1evalue {{\\"t\\": \\"int\\", \\"v\\": \\"{}\\"}}", v);\n    }\n'
        "    std::process::exit(0);\n}\n",
        tampering=True,
    ),
    "rust_panics_inside_the_call": Attack(
        "rust", 'pub fn secret(n: i64) -> i64 { panic!("passed") }\n'
    ),
}


@pytest.mark.parametrize("language", sorted(FILES))
async def test_honest_solution_scores_full_marks(graded: Graded, language: str) -> None:
    """The control: the same exercise, solved, passes in every language."""
    result = await graded(secret_exercise(language), {FILES[language]: HONEST[language]})
    assert [(t.name, t.passed) for t in result.tests] == [
        ("one", True),
        ("three", True),
        ("five", True),
    ], [t.output for t in result.tests]
    assert result.score == result.max_score and not result.tampering


@pytest.mark.parametrize("name", sorted(ATTACKS))
async def test_forgery_scores_zero_on_hidden_tests(graded: Graded, name: str) -> None:
    attack = ATTACKS[name]
    files = {FILES[attack.language]: attack.source.lstrip("\n")}
    result = await graded(secret_exercise(attack.language), files)
    secret_tests = hidden(result)
    assert [t.name for t in secret_tests] == ["three", "five"]
    assert all(t.score == 0 and not t.passed for t in secret_tests), [
        t.output for t in secret_tests
    ]
    if attack.tampering:
        assert result.tampering, [t.output for t in result.tests]
        assert result.to_results_json()["extra_data"]["tampering"] is True
    elif attack.tampering is False:
        assert not result.tampering, [t.output for t in result.tests]
