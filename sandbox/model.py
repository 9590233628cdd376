"""The data of a run: what is asked (RunRequest, Limits), what streams back (Chunk), how it ends.

These shapes cross every seam: the queue, the Redis stream to workers, the room events socket
and the grader all speak them. They are plain frozen dataclasses with ``to_dict``/``from_dict``
so they cross process boundaries as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

Stream = Literal["stdout", "stderr"]


class RunStatus(StrEnum):
    OK = "ok"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    COMPILE_ERROR = "compile_error"
    CANCELLED = "cancelled"
    INTERNAL_ERROR = "internal_error"


class RunState(StrEnum):
    """Lifecycle of a run: queued → running → finished, each transition once."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(frozen=True)
class Limits:
    """Hard limits of one run (compile step included). Times in seconds, sizes in bytes/MiB."""

    time_seconds: float = 5.0
    memory_mb: int = 256
    pids: int = 64
    output_bytes: int = 64 * 1024
    cpus: float = 1.0
    disk_mb: int = 64
    nofile: int = 256
    compile_time_seconds: float = 30.0

    def capped(self, maxima: Limits) -> Limits:
        """These limits, none above the operator's ``maxima``."""
        return Limits(
            time_seconds=min(self.time_seconds, maxima.time_seconds),
            memory_mb=min(self.memory_mb, maxima.memory_mb),
            pids=min(self.pids, maxima.pids),
            output_bytes=min(self.output_bytes, maxima.output_bytes),
            cpus=min(self.cpus, maxima.cpus),
            disk_mb=min(self.disk_mb, maxima.disk_mb),
            nofile=min(self.nofile, maxima.nofile),
            compile_time_seconds=min(self.compile_time_seconds, maxima.compile_time_seconds),
        )

    def with_overrides(self, overrides: dict[str, Any] | None) -> Limits:
        if not overrides:
            return self
        known = {k: v for k, v in overrides.items() if k in self.__dataclass_fields__}
        return replace(self, **known)


@dataclass(frozen=True)
class Case:
    """One process of a multi-case run: its own stdin and extra args."""

    stdin: str = ""
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunRequest:
    """One run: ``files`` maps a relative path to its text; the first file is the entry point
    unless the language table says otherwise.

    With ``cases``, the files are compiled once and the program then runs once per case, each
    in its own process with the case's stdin and args (``stdin`` and ``args`` are unused),
    one after the other, every leftover process killed between two cases; the time and output
    limits are each case's (Docker: the output of all cases together may reach the number of
    cases times the limit), memory and disk the whole run's. The result then carries one
    :class:`CaseResult` per case, in order.
    """

    language: str
    files: dict[str, str]
    stdin: str = ""
    args: tuple[str, ...] = ()
    limits: Limits | None = None
    interactive: bool = False
    cases: tuple[Case, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["args"] = list(self.args)
        data["cases"] = [{"stdin": c.stdin, "args": list(c.args)} for c in self.cases]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRequest:
        limits = data.get("limits")
        return cls(
            language=data["language"],
            files=dict(data["files"]),
            stdin=data.get("stdin", ""),
            args=tuple(data.get("args", ())),
            limits=Limits(**limits) if limits else None,
            interactive=bool(data.get("interactive", False)),
            cases=tuple(
                Case(str(c.get("stdin", "")), tuple(c.get("args", ())))
                for c in data.get("cases", ())
            ),
        )


@dataclass(frozen=True)
class Chunk:
    """A piece of output, as produced. ``seq`` counts from 0 within one run, across both streams."""

    seq: int
    stream: Stream
    data: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(seq=int(data["seq"]), stream=data["stream"], data=data["data"])


@dataclass(frozen=True)
class CaseResult:
    """How one case of a multi-case run ended. ``tampered``: the run's framing around this case
    was not the sandbox's own (a forged or repeated case marker): its output cannot be trusted."""

    status: RunStatus
    exit_code: int | None = None
    signal: str | None = None
    wall_ms: float = 0.0
    cpu_ms: float | None = None
    stdout: str = ""
    stderr: str = ""
    message: str = ""
    tampered: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseResult:
        values = dict(data)
        values["status"] = RunStatus(values["status"])
        return cls(**values)


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    exit_code: int | None = None
    signal: str | None = None
    wall_ms: float = 0.0
    cpu_ms: float | None = None
    memory_peak_bytes: int | None = None
    stdout: str = ""
    stderr: str = ""
    compile_output: str = ""
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    cases: tuple[CaseResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["cases"] = [case.to_dict() for case in self.cases]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        values = dict(data)
        values["status"] = RunStatus(values["status"])
        values["cases"] = tuple(CaseResult.from_dict(c) for c in values.get("cases", ()))
        return cls(**values)
