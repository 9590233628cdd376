"""The one view of a run: a stored row, a result and a live run render with the same names."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.model import RunResult, RunStatus
from server.models.runs import Run
from server.runs.view import RunSummary, RunView, finished_event, summary_of_row, view_of_row

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def a_row() -> Run:
    return Run(
        id="r1",
        room_id=3,
        user_id=4,
        language="python",
        doc="students/4/main.py",
        state="finished",
        status="ok",
        exit_code=0,
        wall_ms=125.5,
        cpu_ms=40.0,
        memory_peak=1 << 20,
        stdout="hi\n",
        created_at=AT,
        finished_at=AT,
    )


def test_a_stored_row_renders_time_ms_and_memory_peak_bytes() -> None:
    view = view_of_row(a_row())
    data = view.model_dump(mode="json")
    assert (data["time_ms"], data["cpu_ms"], data["memory_peak_bytes"]) == (125.5, 40.0, 1 << 20)
    assert "wall_ms" not in data and "memory_peak" not in data
    assert data["stdout"] == "hi\n"


def test_a_summary_is_the_view_without_output() -> None:
    summary = summary_of_row(a_row()).model_dump(mode="json")
    assert set(summary) == set(RunSummary.model_fields)
    assert set(RunView.model_fields) - set(RunSummary.model_fields) == {
        "stdout",
        "stderr",
        "compile_output",
    }
    assert summary["time_ms"] == 125.5


def test_run_finished_uses_the_view_names() -> None:
    result = RunResult(RunStatus.TIMEOUT, exit_code=None, signal="SIGKILL", wall_ms=2000.04)
    event = finished_event("r1", result)
    assert event["type"] == "run.finished" and event["run_id"] == "r1"
    assert event["status"] == "timeout" and event["time_ms"] == 2000.0
    named = set(event) - {"type", "run_id"}
    assert named <= set(RunView.model_fields), "every field of run.finished is a view field"
