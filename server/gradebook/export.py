"""The gradebook as CSV (one row per student and exercise, unattempted ones included) and as
Gradescope ``results.json`` per student and exercise."""

from __future__ import annotations

import csv
import io
from typing import Any

from server.gradebook.sheet import NOT_ATTEMPTED, Sheet
from server.security.cells import cell as cell_text

CSV_COLUMNS = [
    "student_id",
    "student",
    "exercise",
    "kept",
    "attempt",
    "attempts",
    "status",
    "score",
    "max_score",
    "shown_score",
    "shown_max_score",
    "submitted_at",
    # a score overridden by hand, beside the automatic one (the cockpit)
    "override_score",
    "override_comment",
    "override_by",
    "override_at",
]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _override_cells(override: dict[str, Any] | None) -> list[Any]:
    if override is None:
        return ["", "", "", ""]
    by = override["by"]["name"]
    return [
        _number(override["score"]),
        cell_text(override["comment"]),
        cell_text(by),
        override["at"],
    ]


def to_csv(sheet: Sheet) -> str:
    """Times are ISO 8601 in UTC with their offset (``2026-11-26T09:00:00+00:00``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for user_id, name in sheet.students:
        for column in sheet.columns:
            cell = sheet.cell(user_id, column.id)
            attempted = cell.status != NOT_ATTEMPTED
            writer.writerow(
                [
                    user_id,
                    cell_text(name),
                    cell_text(column.id),
                    sheet.keep.value,
                    cell.attempt or "",
                    cell.attempts,
                    cell.status,
                    _number(cell.score),
                    _number(cell.max_score if attempted else column.max_score),
                    _number(cell.shown_score),
                    _number(cell.shown_max_score if attempted else column.shown_max_score),
                    cell.submitted_at.isoformat() if cell.submitted_at else "",
                    *_override_cells(sheet.override(cell)),
                ]
            )
    return out.getvalue()


def to_results_json(sheet: Sheet) -> dict[str, Any]:
    """Full results (staff view) of the kept attempt; an unattempted exercise scores 0."""
    students = []
    for user_id, name in sheet.students:
        exercises: dict[str, Any] = {}
        for column in sheet.columns:
            cell = sheet.cell(user_id, column.id)
            missing = (
                NOT_ATTEMPTED if cell.status == NOT_ATTEMPTED else f"not graded: {cell.status}"
            )
            exercises[column.id] = cell.results or {
                "score": 0,
                "max_score": cell.max_score or column.max_score,
                "output": missing,
                "tests": [],
            }
            override = sheet.override(cell)
            if override is not None:  # beside the automatic grade, never instead of it
                exercises[column.id] = {**exercises[column.id], "override": override}
        students.append({"student_id": user_id, "name": name, "exercises": exercises})
    return {"classroom_id": sheet.classroom_id, "kept": sheet.keep.value, "students": students}
