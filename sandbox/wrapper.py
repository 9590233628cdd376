"""The program a sandbox container runs, the message that starts it, and its trailers.

A container's main process is ``bash -c WRAPPER`` as the run user, started before the code is
known (so it can wait in the warm pool). It blocks on stdin, where the backend, attached to the
container, sends :func:`payload`: NUL-terminated fields (a nonce, the tar size, the compile
argv, the run argv), the tar of the files, then the program's own stdin. Once it has the nonce
it writes the *begun* trailer on stdout: the backend's sign that the container is alive and
reading (attaching to a container that died cannot tell: it succeeds, and nothing ever
comes). Attaching costs a few milliseconds where an ``exec`` costs ~65 (runc), and Docker
20.10 cannot ``put_archive`` into a tmpfs below a read-only root. The wrapper then:

1. unpacks the files into the work dir;
2. compiles, if there is a compile command, with the compiler's output on stderr, then kills
   every other process of the user and writes the *compiled* trailer;
3. runs the program with the rest of stdin, kills every other process of the user (children
   that outlive the program neither survive nor hold the output open) and writes the *usage*
   trailer: exit code, cgroup CPU time before/after, peak memory, failcnt (v1) or OOM kills
   (v2) — read in-band because the engine's stats endpoint waits for a 1 s tick — on both
   stdout and stderr: once both are seen, both pipes are drained and the run is over, without
   waiting ~100 ms for the engine to tear the container down;
4. stays in the container as an idle ``sleep``, no process of the run left: the container's
   end, about 40 ms of the engine's CPU whether it exits or is removed, is the backend's to
   time (:meth:`sandbox.docker.DockerBackend.retire_box`), not on the next run's path.
   A failed compile, a bad payload and an unpack error still end the container at once.

Trailers start with ``\\x1e`` and the nonce, which only the backend and the wrapper know, so a
program (or a compiler echoing source) cannot forge them by printing.

A run with cases (grading: every test of a submission in one container) replaces step 3 by a
loop: for each case, a *case* trailer on both streams, the program as its own process with the
case's args and its stdin from ``.cases/<n>`` (written by the backend into the tar), under
``timeout`` (the per-case time limit), then ``kill -1`` (no process of the case survives into
the next), then a *done* trailer on both streams with the exit code, CPU, memory and wall time
of that case; finally the *usage* trailer as usual. The backend splits the output by these
trailers (:mod:`sandbox.cases`). The run user is the same for the wrapper and the program, so
a program that reads the wrapper's memory could learn the nonce: any trailer it forges for a
case shows up twice (the wrapper's own follows) and the case is marked tampered.

A language may bring its own main process instead of this wrapper
(:attr:`sandbox.languages.Language.main`): Python's reads the same payload and writes the
same trailers, but forks each run and case from an interpreter started with the container
(:mod:`sandbox.python_main`).
"""

from __future__ import annotations

import io
import signal
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

WORKDIR = "/work"
TMP_DIR = ".tmp"  # inside the work dir: the root file system is read-only
UNPACK_FAILED = 125
BAD_PAYLOAD = 124
RS = b"\x1e"
CASES_DIR = ".cases"

WRAPPER = f"""\
field() {{ IFS= read -r -d '' "$1" || exit {BAD_PAYLOAD}; }}
usage() {{  # sets u_cpu, u_peak and u_fail without a subshell (a fork costs ~0.6 ms)
  local g=/sys/fs/cgroup k v
  u_cpu=- u_peak=- u_fail=0
  if [ -r $g/cpuacct/cpuacct.usage ]; then
    read -r u_cpu < $g/cpuacct/cpuacct.usage
    read -r u_peak < $g/memory/memory.max_usage_in_bytes
    read -r u_fail < $g/memory/memory.failcnt
  elif [ -r $g/cpu.stat ]; then
    while read -r k v; do [ "$k" = usage_usec ] && u_cpu=${{v}}000; done < $g/cpu.stat
    [ -r $g/memory.peak ] && read -r u_peak < $g/memory.peak
    while read -r k v; do [ "$k" = oom_kill ] && u_fail=$v; done < $g/memory.events
  fi
}}
field nonce; printf '\\036%s begun\\n' "$nonce"; field size
field n; compile=(); for ((i = 0; i < n; i++)); do field a; compile+=("$a"); done
field n; run=(); for ((i = 0; i < n; i++)); do field a; run+=("$a"); done
field ncase; field limit; counts=(); flat=()
for ((c = 0; c < ncase; c++)); do
  field n; counts+=("$n")
  for ((i = 0; i < n; i++)); do field a; flat+=("$a"); done
done
if ! head -c "$size" | tar -x -f - -C {WORKDIR}; then
  echo "sandbox: cannot unpack the files" >&2
  exit {UNPACK_FAILED}
fi
exec 3>&2 2>/dev/null
if ((${{#compile[@]}})); then
  "${{compile[@]}}" </dev/null >&3 2>&3
  code=$?
  kill -s KILL -- -1
  usage
  printf '\\036%s compiled %s - %s %s %s\\n' "$nonce" "$code" "$u_cpu" "$u_peak" "$u_fail" >&3
  ((code == 0)) || exit "$code"
fi
for ((c = 0, o = 0; c < ncase; c++)); do
  cargs=("${{flat[@]:o:counts[c]}}"); ((o += counts[c]))
  printf -v line '\\036%s case %s' "$nonce" "$c"
  echo "$line" >&3; echo "$line"
  usage; before=$u_cpu; t0=${{EPOCHREALTIME/./}}
  timeout -s KILL "$limit" "${{run[@]}}" "${{cargs[@]}}" <".cases/$c" 2>&3 3>&-
  code=$?; t1=${{EPOCHREALTIME/./}}
  kill -s KILL -- -1
  usage
  printf -v line '\\036%s done %s %s %s %s %s %s %s' "$nonce" "$c" "$code" "$before" \
    "$u_cpu" "$u_peak" "$u_fail" "$((t1 - t0))"
  echo "$line" >&3; echo "$line"
done
usage; before=$u_cpu
code=0
if ((ncase == 0)); then
  "${{run[@]}}" 2>&3 3>&-
  code=$?
fi
kill -s KILL -- -1
usage
printf -v line '\\036%s usage %s %s %s %s %s' "$nonce" "$code" "$before" "$u_cpu" "$u_peak" \
  "$u_fail"
echo "$line" >&3
echo "$line"
exec sleep infinity </dev/null >/dev/null 2>&1 3>&-
"""


def payload(
    nonce: str,
    archive: bytes,
    compile_argv: tuple[str, ...] | None,
    run_argv: tuple[str, ...],
    *,
    case_args: Sequence[tuple[str, ...]] = (),
    case_seconds: float = 0.0,
) -> bytes:
    """What the wrapper reads before the program's stdin (argv may hold any byte but NUL).
    ``case_args``: the extra args of each case of a multi-case run (whose stdins are the
    archive's ``.cases/<n>``, see :func:`case_files`); ``case_seconds`` its time limit."""
    compile_argv = compile_argv or ()
    fields = [nonce, str(len(archive)), str(len(compile_argv)), *compile_argv]
    fields += [str(len(run_argv)), *run_argv]
    fields += [str(len(case_args)), f"{case_seconds:.3f}"]
    for args in case_args:
        fields += [str(len(args)), *args]
    return b"".join(f.encode("utf-8", "surrogatepass") + b"\0" for f in fields) + archive


def case_files(stdins: Sequence[str]) -> dict[str, str]:
    """The stdin of each case as a file of the work dir (a name no submitted file can have)."""
    return {f"{CASES_DIR}/{n}": text for n, text in enumerate(stdins)}


def files_archive(files: dict[str, str]) -> bytes:
    """A tar of the run's files (names already validated) and the temp dir."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tmp = tarfile.TarInfo(TMP_DIR)
        tmp.type, tmp.mode, tmp.mtime = tarfile.DIRTYPE, 0o700, now
        tar.addfile(tmp)
        for name, text in files.items():
            data = text.encode("utf-8", "surrogatepass")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = now
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def signal_name(exit_code: int) -> str | None:
    """The signal a shell-style exit code (128 + n) reports, if any."""
    if 128 < exit_code < 128 + 65:
        try:
            return signal.Signals(exit_code - 128).name
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Trailer:
    kind: str  # "begun" | "compiled" | "usage" | "case" | "done"
    exit_code: int | None = None
    cpu_ns: int | None = None
    peak_bytes: int | None = None
    failcnt: int = 0
    case: int | None = None
    wall_us: int | None = None


class TrailerFilter:
    """Splits trailers off the stderr bytes: :meth:`feed` returns bytes and trailers in order."""

    def __init__(self, nonce: str) -> None:
        self._mark = RS + nonce.encode() + b" "
        self._held = b""
        self._line: bytes | None = None  # inside a trailer line when not None

    def feed(self, data: bytes) -> list[bytes | Trailer]:
        out: list[bytes | Trailer] = []
        buf = self._held + data
        self._held = b""
        mark = self._mark
        while buf:
            if self._line is not None:
                end = buf.find(b"\n")
                if end < 0:
                    self._line += buf[:200]
                    break
                out.append(_parse(self._line + buf[:end]))
                self._line, buf = None, buf[end + 1 :]
                continue
            start = buf.find(mark)
            if start >= 0:
                if start:
                    out.append(buf[:start])
                self._line, buf = b"", buf[start + len(mark) :]
                continue
            keep = next((k for k in range(len(mark) - 1, 0, -1) if buf.endswith(mark[:k])), 0)
            if len(buf) > keep:
                out.append(buf[: len(buf) - keep])
            self._held = buf[len(buf) - keep :]
            break
        return out

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held


def _parse(line: bytes) -> Trailer:
    kind, *fields = line.decode("ascii", "replace").split() or [""]
    numbers = [int(f) if f.isdigit() else None for f in fields[:7]]
    numbers += [None] * (7 - len(numbers))
    case = wall = None
    if kind in ("case", "done"):
        case, *numbers = numbers
    if kind == "done":
        wall = numbers[5]
    code, cpu_before, cpu_after, peak, fail = numbers[:5]
    cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    return Trailer(
        kind, exit_code=code, cpu_ns=cpu, peak_bytes=peak, failcnt=fail or 0, case=case,
        wall_us=wall,
    )  # fmt: skip
