"""Writing and reading the course import log (table ``course_imports``)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from server.models import CourseImport
from server.models.clock import as_utc
from server.store import Store

MAX_ERROR_CHARS = 20_000


async def record(
    store: Store,
    classroom_id: int,
    user_id: int,
    *,
    report: dict[str, Any] | None = None,
    errors: str = "",
) -> None:
    """Log one import: its report when it succeeded, else its errors (one per line)."""
    async with store.session() as session:
        session.add(
            CourseImport(
                classroom_id=classroom_id,
                user_id=user_id,
                ok=report is not None,
                errors=errors[:MAX_ERROR_CHARS],
                report=report or {},
            )
        )


async def last(store: Store, classroom_id: int) -> dict[str, Any] | None:
    """The last import of a classroom: ``{at, ok, errors: [line], report}``, or None."""
    async with store.session() as session:
        row = (
            await session.exec(
                select(CourseImport)
                .where(CourseImport.classroom_id == classroom_id)
                .order_by(col(CourseImport.id).desc())
                .limit(1)
            )
        ).first()
    if row is None:
        return None
    return {
        "at": as_utc(row.created_at).isoformat(),
        "ok": row.ok,
        "errors": [line for line in row.errors.splitlines() if line.strip()],
        "report": row.report,
    }
