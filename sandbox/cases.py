"""Splitting the output of a multi-case run into one result per case, sans I/O.

The container's main process (:mod:`sandbox.python_main`) frames every case with a *case*
trailer before it and a *done* trailer after it, on both streams, and kills every process of
the run user in between, so the bytes between the two trailers of case n on a stream were
written while only case n's processes were alive. :class:`CaseSplitter` takes the filtered
stream (bytes and trailers, in order) and files the bytes under the open case.

Rule 1: on each stream the trailers must come as ``case 0, done 0, case 1, done 1, …``. A
trailer out of that order can only be forged (the nonce is secret to the main process, which
is non-dumpable: this is a second line of defence); the case it names, and the case open at
that moment, are marked ``tampered``.
Rule 2: a case with no *done* trailer did not end inside its own process's time: it takes the
run's verdict (time limit, output limit, killed) or "did not run" if it never started.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from sandbox.model import CaseResult, RunStatus, Stream
from sandbox.wrapper import Trailer, signal_name

_KILLED = 137


@dataclass
class _Case:
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    started: set[str] = field(default_factory=set)
    done: Trailer | None = None
    tampered: bool = False


class CaseSplitter:
    """Feed :meth:`data` and :meth:`trailer` in stream order; :meth:`results` at the end."""

    def __init__(self, count: int, seconds: float, memory_mb: int) -> None:
        self.count = count
        self.seconds = seconds
        self.memory_mb = memory_mb
        self._cases = [_Case() for _ in range(count)]
        self._open: dict[str, int | None] = {"stdout": None, "stderr": None}
        self._next: dict[str, int] = {"stdout": 0, "stderr": 0}

    @property
    def open_case(self) -> int | None:
        return self._open["stdout"]

    def data(self, stream: Stream, data: bytes) -> None:
        current = self._open[stream]
        if current is not None:
            getattr(self._cases[current], stream).extend(data)

    def trailer(self, stream: Stream, trailer: Trailer) -> None:
        if trailer.kind not in ("case", "done"):
            return
        number = trailer.case
        current = self._open[stream]
        expected = self._next[stream] if trailer.kind == "case" else current
        if number is None or number != expected or number >= self.count:
            self._tamper(number, current)
            return
        case = self._cases[number]
        if trailer.kind == "case":
            case.started.add(stream)
            self._open[stream] = number
            return
        if case.done is not None and case.done != trailer:
            case.tampered = True
        case.done = trailer
        self._open[stream] = None
        self._next[stream] = number + 1

    def _tamper(self, number: int | None, current: int | None) -> None:
        for index in (number, current):
            if index is not None and 0 <= index < self.count:
                self._cases[index].tampered = True

    def results(self, run_status: RunStatus, run_message: str) -> tuple[CaseResult, ...]:
        """One result per case. ``run_status``/``run_message``: how the whole run ended, for
        the case that was cut off (rule 2)."""
        out = []
        for case in self._cases:
            stdout, stderr = _text(case.stdout), _text(case.stderr)
            done = case.done
            if done is None:
                started = bool(case.started)
                status = run_status if started else RunStatus.RUNTIME_ERROR
                if status is RunStatus.OK:
                    status = RunStatus.RUNTIME_ERROR
                message = run_message if started else "did not run: the run ended before it"
                out.append(
                    CaseResult(status, stdout=stdout, stderr=stderr, message=message,
                               tampered=case.tampered)
                )  # fmt: skip
                continue
            status, message = self._verdict(done)
            out.append(
                CaseResult(
                    status,
                    exit_code=done.exit_code,
                    signal=signal_name(done.exit_code) if done.exit_code is not None else None,
                    wall_ms=(done.wall_us or 0) / 1000,
                    cpu_ms=done.cpu_ns / 1e6 if done.cpu_ns is not None else None,
                    stdout=stdout,
                    stderr=stderr,
                    message=message,
                    tampered=case.tampered,
                )
            )
        return tuple(out)

    def _verdict(self, done: Trailer) -> tuple[RunStatus, str]:
        code = done.exit_code
        if code == 0:
            return RunStatus.OK, ""
        if code == _KILLED and (done.wall_us or 0) >= self.seconds * 1e6 * 0.95:
            return RunStatus.TIMEOUT, f"stopped after {self.seconds:g} s"
        if code == _KILLED and done.failcnt > 0:
            return RunStatus.MEMORY_LIMIT, f"out of memory ({self.memory_mb} MB)"
        return RunStatus.RUNTIME_ERROR, ""


def _text(data: bytearray) -> str:
    return codecs.decode(bytes(data), "utf-8", "replace")
