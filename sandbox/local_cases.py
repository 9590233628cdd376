"""A graded Python run's cases on the local backend: one bubblewrap step, each case forked.

Design note. Without this, each case of a graded run is a step of its own (sandbox/local_run.py):
a bwrap, a pid namespace, a fresh ``python3``, about 15 ms of CPU before the program's first
line, three times for a three-test exercise. Under bubblewrap a Python run's cases instead
share one step whose pid 1 is :mod:`sandbox.python_main` (``python3 -u -c <it> pid1``), the
Docker containers' main process: it reads the same payload (with an archive of size 0: the
files, and each case's stdin as ``.cases/<n>``, are already in ``/work``), forks each case
from its own interpreter and frames the cases with the same trailers, which
:class:`~sandbox.cases.CaseSplitter` files. Each case is still its own process, with the
case's stdin and args, killed at the per-case time limit, and nothing of it outlives it
(``kill(-1)`` inside the namespace, then pid 1 reaps). The nonce is safe as it is there: the
main process is non-dumpable, and the namespace's pid 1 takes no signal from inside it that it
has no handler for.

What changes for a case against a step of its own: the cases share ``/work`` (one case may
leave a file for the next, as in a container), and the output cap is the run's, not each
case's: the run that passes it is killed, and the cases after the open one "did not run", as
on Docker. Verdicts keep the local backend's rules: a case killed by ``SIGXCPU`` (or SIGKILL
at the hard CPU limit) timed out, and one that failed with an allocation failure at the end of
its stderr ran out of memory (:mod:`sandbox.local_verdicts`, as for a step of its own).

Only under bubblewrap: without it there is no pid namespace, and the main process's
``kill(-1)`` would reach every process of the uid (the server's own, when it runs unprivileged).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Sequence

from sandbox.cases import CaseSplitter
from sandbox.languages import Language
from sandbox.local_verdicts import cpu_limit_reached, out_of_memory, time_limit_message
from sandbox.model import CaseResult, Limits, RunRequest, RunResult, RunStatus, Stream
from sandbox.wrapper import (
    BAD_PAYLOAD,
    UNPACK_FAILED,
    Trailer,
    TrailerFilter,
    case_files,
    payload,
)

# What the main process is told, after its source, when it is a pid namespace's pid 1.
PID1 = "pid1"
# A case's time is measured inside the step (its own SIGKILL); the step's timer only catches a
# main process that stopped answering, this long after a case began.
GRACE_SECONDS = 2.0


def forks_cases(language: Language, request: RunRequest, able: bool) -> bool:
    """Whether a run's cases go to :class:`ForkedCases`: Python's main process, on a backend
    ``able`` to (bubblewrap works, and the host's ``python3`` can run the main process)."""
    return bool(request.cases and language.forks and able)


class ForkedCases:
    """The cases of one run in one step: its payload, its output split by case, its results."""

    def __init__(
        self,
        request: RunRequest,
        language: Language,
        limits: Limits,
    ) -> None:
        self.request = request
        self.language = language
        self.limits = limits
        self.nonce = secrets.token_hex(8)
        self.usage: Trailer | None = None
        self.begun = False
        self._splitter = CaseSplitter(len(request.cases), limits.time_seconds, limits.memory_mb)
        self._filters = {name: TrailerFilter(self.nonce) for name in ("stdout", "stderr")}

    @property
    def argv(self) -> tuple[str, ...]:
        return (*self.language.main, PID1)

    def files(self) -> dict[str, str]:
        """Each case's stdin, to be written into the work dir with the run's files."""
        return case_files([case.stdin for case in self.request.cases])

    def payload(self, names: Sequence[str]) -> bytes:
        return payload(
            self.nonce,
            b"",
            None,
            self.language.run_argv(list(names), self.request.args),
            case_args=[case.args for case in self.request.cases],
            case_seconds=self.limits.time_seconds,
        )

    def feed(
        self,
        stream: Stream,
        data: bytes,
        output: Callable[[Stream, bytes], None],
        case_began: Callable[[], None],
    ) -> None:
        """Output of the step: trailers to the splitter, bytes to the open case and to
        ``output``; ``case_began`` when a case's trailer comes on stdout."""
        for piece in self._filters[stream].feed(data):
            if isinstance(piece, Trailer):
                self._trailer(stream, piece, case_began)
                continue
            self._splitter.data(stream, piece)
            output(stream, piece)

    def _trailer(self, stream: Stream, piece: Trailer, case_began: Callable[[], None]) -> None:
        if piece.kind == "begun":
            self.begun = True
        elif piece.kind == "usage":
            self.usage = piece
        else:
            self._splitter.trailer(stream, piece)
            if piece.kind == "case" and stream == "stdout":
                case_began()

    def flush(self, output: Callable[[Stream, bytes], None]) -> None:
        """What a filter held back at the end (the start of a trailer that never finished)."""
        for stream, trailers in self._filters.items():
            if held := trailers.flush():
                self._splitter.data(stream, held)  # type: ignore[arg-type]
                output(stream, held)  # type: ignore[arg-type]

    def outcome(
        self,
        exit_code: int | None,
        cut: tuple[RunStatus, str] | None,
        stderr: str,
        compile_output: str,
    ) -> RunResult:
        """The run's result once its step ended: ``cut``, the status and message of the step
        when we ended it (cancel, output cap, the grace past a case's time), for the case it
        cut off; ``stderr``, all the step wrote there."""
        if cut is not None and cut[0] is RunStatus.CANCELLED:
            return RunResult(RunStatus.CANCELLED, cases=self.results(*cut), message="cancelled")
        refused = self.usage is None and exit_code in (BAD_PAYLOAD, UNPACK_FAILED)
        if cut is None and (not self.begun or refused):
            said = stderr.strip()
            return RunResult(
                RunStatus.INTERNAL_ERROR,
                exit_code=exit_code,
                stderr=said,
                message=f"the sandbox could not run the cases ({said or exit_code})",
            )
        # Without a cut, a case with no end of its own saw the main process end.
        status, message = cut or (RunStatus.RUNTIME_ERROR, "the sandbox ended the run")
        cases = self.results(status, message)
        return RunResult(RunStatus.OK, compile_output=compile_output, cases=cases)

    def results(self, run_status: RunStatus, run_message: str) -> tuple[CaseResult, ...]:
        """One result per case; ``run_status``: how the step ended, for the case it cut off."""
        out = []
        for case in self._splitter.results(run_status, run_message):
            verdict = case
            if case.status is RunStatus.RUNTIME_ERROR and case.exit_code is not None:
                if cpu_limit_reached(case.signal, case.cpu_ms, self.limits):
                    message = time_limit_message(self.limits)
                    verdict = dataclasses.replace(case, status=RunStatus.TIMEOUT, message=message)
                elif out_of_memory(case.stderr):
                    verdict = dataclasses.replace(case, status=RunStatus.MEMORY_LIMIT)
            out.append(verdict)
        return tuple(out)
