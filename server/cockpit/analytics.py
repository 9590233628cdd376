"""Exercise analytics, computed by the database: pass rate, attempts and time to first pass
(median and p90), the tests that fail most, and the common errors clustered by signature.

Design note. Every figure is one aggregate query over ``progress``, ``attempt_outcomes`` and
``attempt_errors``; Python receives only the answers (a few rows per test and per error
cluster), never the class's submissions. Percentiles are nearest-rank, from window functions
that SQLite (3.25+) and PostgreSQL share: the smallest value whose rank is at least p·n.
The one dialect difference, seconds between two timestamps, is :func:`seconds_between`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, literal_column
from sqlalchemy.sql import Select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import AttemptError, AttemptOutcome, Membership, Progress, Role, User

TOP_ERRORS = 20


def seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)


async def _percentiles(
    session: AsyncSession, values: Select[Any]
) -> tuple[float | None, float | None]:
    """(median, p90) of the one-column query ``values``."""
    inner = values.subquery("v")
    value = inner.c[0]
    ranked = select(
        value.label("x"),
        func.row_number().over(order_by=value).label("rn"),
        func.count().over().label("n"),
    ).subquery("r")
    rn, n, x = ranked.c.rn, ranked.c.n, ranked.c.x
    row = (
        await session.exec(
            select(
                func.min(_when(rn >= 0.5 * n, x)),
                func.min(_when(rn >= 0.9 * n, x)),
            )
        )
    ).one()
    return (_num(row[0]), _num(row[1]))


def _when(condition: ColumnElement[bool], value: Any) -> ColumnElement[Any]:
    """``value`` where ``condition`` holds, else NULL (which aggregates skip)."""
    return case((condition, value), else_=None)


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


async def exercise_analytics(
    session: AsyncSession, classroom_id: int, exercise_id: str
) -> dict[str, Any]:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    students = (
        await session.exec(
            select(func.count()).where(
                Membership.classroom_id == classroom_id, Membership.role == Role.STUDENT.value
            )
        )
    ).one()
    mine = (col(Progress.classroom_id) == classroom_id) & (col(Progress.exercise_id) == exercise_id)
    attempted, passed = (
        await session.exec(
            select(
                func.count(),
                func.coalesce(func.sum(_when(col(Progress.passed).is_(True), 1)), 0),
            ).where(mine, col(Progress.attempts) > 0)
        )
    ).one()
    attempts = await _percentiles(
        session, select(Progress.attempts).where(mine, col(Progress.attempts) > 0)
    )
    to_pass = await _percentiles(
        session,
        select(
            seconds_between(col(Progress.first_attempt_at), col(Progress.first_pass_at), dialect)
        ).where(
            mine,
            col(Progress.first_pass_at).is_not(None),
            col(Progress.first_attempt_at).is_not(None),
        ),
    )
    histogram = await session.exec(
        select(Progress.attempts, func.count())
        .where(mine, col(Progress.attempts) > 0)
        .group_by(col(Progress.attempts))
        .order_by(col(Progress.attempts))
    )
    failing = col(AttemptOutcome.passed).is_(False)
    tests = await session.exec(
        select(
            AttemptOutcome.test,
            func.count(),
            func.sum(_when(failing, 1)),
            func.count(func.distinct(_when(failing, col(AttemptOutcome.user_id)))),
        )
        .where(
            AttemptOutcome.classroom_id == classroom_id, AttemptOutcome.exercise_id == exercise_id
        )
        .group_by(col(AttemptOutcome.test))
        .order_by(literal_column("3").desc(), col(AttemptOutcome.test))
    )
    errors_mine = (
        (col(AttemptError.classroom_id) == classroom_id)
        & (col(AttemptError.exercise_id) == exercise_id)
        & (col(AttemptError.signature) != "")
    )
    clusters = (
        await session.exec(
            select(
                AttemptError.signature,
                func.count(),
                func.count(func.distinct(AttemptError.user_id)),
                func.min(AttemptError.line),
            )
            .where(errors_mine)
            .group_by(col(AttemptError.signature))
            .order_by(func.count().desc(), col(AttemptError.signature))
            .limit(TOP_ERRORS)
        )
    ).all()
    who: dict[str, list[dict[str, Any]]] = {sig: [] for sig, *_ in clusters}
    if who:
        hit = await session.exec(
            select(AttemptError.signature, User.id, User.name)
            .join(User, col(User.id) == AttemptError.user_id)
            .where(errors_mine, col(AttemptError.signature).in_(list(who)))
            .distinct()
            .order_by(col(User.name))
        )
        for sig, uid, name in hit.all():
            who[sig].append({"id": uid, "name": name})
    rate = (float(passed) / attempted) if attempted else None
    return {
        "exercise_id": exercise_id,
        "students": int(students),
        "attempted": int(attempted),
        "passed": int(passed),
        "pass_rate": None if rate is None else round(rate, 4),
        "attempts": {"median": attempts[0], "p90": attempts[1]},
        "time_to_first_pass_seconds": {"median": to_pass[0], "p90": to_pass[1]},
        "attempts_histogram": [{"attempts": a, "students": n} for a, n in histogram.all()],
        "tests": [
            {"test": t, "attempts": int(n), "failures": int(f or 0), "students_failing": int(s)}
            for t, n, f, s in tests.all()
        ],
        "errors": [
            {"signature": sig, "example": example, "count": int(n), "students": who[sig]}
            for sig, n, _, example in clusters
        ],
    }


def analytics_csv(data: dict[str, Any]) -> str:
    """The analytics as one CSV: a ``kind`` column (summary, test, error) and its figures."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "name", "count", "failures", "students", "detail"])
    for key in ("students", "attempted", "passed", "pass_rate"):
        writer.writerow(["summary", key, data[key], "", "", ""])
    for key in ("attempts", "time_to_first_pass_seconds"):
        for p in ("median", "p90"):
            writer.writerow(["summary", f"{key}.{p}", data[key][p], "", "", ""])
    for t in data["tests"]:
        writer.writerow(
            ["test", t["test"], t["attempts"], t["failures"], t["students_failing"], ""]
        )
    for e in data["errors"]:
        names = "; ".join(s["name"] for s in e["students"])
        writer.writerow(["error", e["signature"], e["count"], "", len(e["students"]), names])
    return out.getvalue()
