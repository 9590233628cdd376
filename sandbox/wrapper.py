"""The contract between a sandbox container's main process and the backend: the message that
starts a run (:func:`payload`) and the trailers that frame its output (:class:`TrailerFilter`).

A container's main process (:mod:`sandbox.python_main`, as the run user) is started before the
code is known, so it can wait in the warm pool. It blocks on stdin, where the backend, attached
to the container, sends :func:`payload`: NUL-terminated fields (a nonce, the tar size, the
compile argv, the run argv, the cases' count, time limit and args), the tar of the files, then
the program's own stdin. Once it has the nonce it writes the *begun* trailer on stdout: the
backend's sign that the container is alive and reading (attaching to a container that died
cannot tell: it succeeds, and nothing ever comes). Attaching costs a few milliseconds where an
``exec`` costs ~65 (runc), and Docker 20.10 cannot ``put_archive`` into a tmpfs below a
read-only root. Then it unpacks, compiles (the *compiled* trailer: exit code, CPU, peak
memory, OOM count), and runs the program (the *usage* trailer) or each case (a *case* trailer
before, a *done* trailer after, with the case's exit code, CPU, memory and wall time; the
backend splits the output by them, :mod:`sandbox.cases`).

Trailers start with ``\\x1e`` and the nonce, which only the backend and the main process know:
a program (or a compiler echoing source) cannot forge them by printing, nor read the nonce
from the main process, which is non-dumpable. A trailer seen out of order is still taken for a
forgery and its case marked tampered (:mod:`sandbox.cases`).
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
