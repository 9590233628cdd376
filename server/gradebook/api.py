"""The gradebook for staff: ``GET /api/classrooms/{id}/gradebook`` (JSON table), ``grades.csv``
and ``grades.json``; each takes ``?keep=best|latest`` (default ``best``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.responses import Response

from server.api.base import Ctx, endpoint
from server.classrooms.access import classroom_access
from server.cockpit.feedback import latest_overrides
from server.exceptions import BadRequest
from server.gradebook.export import to_csv, to_results_json
from server.gradebook.sheet import Keep, Sheet, build
from server.models import Role
from server.models.clock import utcnow


async def _sheet(ctx: Ctx) -> Sheet:
    classroom_id = ctx.path_int("classroom_id")
    raw = ctx.request.query_params.get("keep", Keep.BEST.value)
    try:
        keep = Keep(raw)
    except ValueError:
        raise BadRequest(f"keep must be best or latest, not {raw!r}", code="bad_keep") from None
    async with ctx.session() as session:
        await classroom_access(
            session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR, Role.ASSISTANT)
        )
        overrides = await latest_overrides(session, classroom_id)
    sheet = await build(ctx.components.store, classroom_id, keep, utcnow())
    return dataclasses.replace(sheet, overrides=overrides)


@endpoint("GET", "/api/classrooms/{classroom_id:id}/gradebook", tag="grading")
async def gradebook(ctx: Ctx) -> dict[str, Any]:
    """Every student against every exercise: the kept attempt per cell (staff)."""
    return (await _sheet(ctx)).to_dict()


@endpoint("GET", "/api/classrooms/{classroom_id:id}/grades.csv", tag="grading")
async def grades_csv(ctx: Ctx) -> Response:
    """The gradebook as CSV, one row per student and exercise (staff)."""
    sheet = await _sheet(ctx)
    name = f"grades-{sheet.classroom_id}-{sheet.keep.value}.csv"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    return Response(to_csv(sheet), media_type="text/csv; charset=utf-8", headers=headers)


@endpoint("GET", "/api/classrooms/{classroom_id:id}/grades.json", tag="grading")
async def grades_json(ctx: Ctx) -> dict[str, Any]:
    """The kept grade per student and exercise in Gradescope's results.json shape (staff)."""
    return to_results_json(await _sheet(ctx))


routes = [gradebook, grades_csv, grades_json]
