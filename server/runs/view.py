"""The one view of a run, and its one JSON rendering, wherever a run is shown.

A run is seen three ways: live (a :class:`~sandbox.queue.QueuedRun` of this process), finished
(its :class:`~sandbox.model.RunResult`) and stored (its ``runs`` row). All three become a
:class:`RunView`; the HTTP API, ``run.finished`` and the room snapshot render that view, so a
field has one name everywhere: ``time_ms`` is the wall time, ``cpu_ms`` the CPU time,
``memory_peak_bytes`` the peak memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from sandbox.model import RunResult, RunState
from sandbox.queue import QueuedRun
from server.models.runs import Run

OUTPUT_FIELDS = frozenset({"stdout", "stderr", "compile_output"})
RESULT_FIELDS = (
    "status",
    "exit_code",
    "signal",
    "time_ms",
    "cpu_ms",
    "memory_peak_bytes",
    "message",
    "compile_output",
)


class RunSummary(BaseModel):
    """A run in a list (the room snapshot's ``runs``, ``GET /api/rooms/{id}/runs``)."""

    id: str
    room_id: int
    user_id: int
    language: str
    doc: str | None
    state: str
    """``queued``, ``running`` or ``finished``."""
    status: str | None = None
    """How it ended (``ok``, ``runtime_error``, ``timeout``, …), once finished."""
    exit_code: int | None = None
    signal: str | None = None
    time_ms: float | None = None
    cpu_ms: float | None = None
    memory_peak_bytes: int | None = None
    message: str = ""
    created_at: datetime
    finished_at: datetime | None = None


class RunView(RunSummary):
    """A whole run: its summary and its (capped) output."""

    stdout: str = ""
    stderr: str = ""
    compile_output: str = ""


def view_of_row(row: Run) -> RunView:
    return RunView(
        id=row.id,
        room_id=row.room_id,
        user_id=row.user_id,
        language=row.language,
        doc=row.doc,
        state=row.state,
        status=row.status,
        exit_code=row.exit_code,
        signal=row.signal,
        time_ms=row.wall_ms,
        cpu_ms=row.cpu_ms,
        memory_peak_bytes=row.memory_peak,
        stdout=row.stdout,
        stderr=row.stderr,
        compile_output=row.compile_output,
        message=row.message,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def with_live_output(view: RunView, live: QueuedRun) -> RunView:
    """``view`` of a run still going in this process: its state and output so far."""
    if live.state is RunState.FINISHED:
        return view
    out = {"stdout": "", "stderr": ""}
    for chunk in live.output():
        out[chunk.stream] = out.get(chunk.stream, "") + chunk.data
    return view.model_copy(
        update={"state": live.state.value, "stdout": out["stdout"], "stderr": out["stderr"]}
    )


def result_fields(result: RunResult) -> dict[str, Any]:
    """How a run ended, with the names of :class:`RunView`."""
    return {
        "status": result.status.value,
        "exit_code": result.exit_code,
        "signal": result.signal,
        "time_ms": round(result.wall_ms, 1),
        "cpu_ms": result.cpu_ms,
        "memory_peak_bytes": result.memory_peak_bytes,
        "message": result.message,
        "compile_output": result.compile_output,
    }


def finished_event(run_id: str, result: RunResult) -> dict[str, Any]:
    """``run.finished``: the run's id and :func:`result_fields`."""
    return {"type": "run.finished", "run_id": run_id, **result_fields(result)}


def summary_of_row(row: Run) -> RunSummary:
    return RunSummary.model_validate(view_of_row(row).model_dump(exclude=set(OUTPUT_FIELDS)))
