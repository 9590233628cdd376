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
class RunRequest:
    """One run: ``files`` maps a relative path to its text; the first file is the entry point
    unless the language table says otherwise."""

    language: str
    files: dict[str, str]
    stdin: str = ""
    args: tuple[str, ...] = ()
    limits: Limits | None = None
    interactive: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["args"] = list(self.args)
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        values = dict(data)
        values["status"] = RunStatus(values["status"])
        return cls(**values)
