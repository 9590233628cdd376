"""Runs of a room over HTTP: start one, read one, list a room's.

Who sees a run: its runner, and the room's instructors and assistants. Someone outside the
room's classroom gets 404 (a run id tells them nothing), a student asking for another's run
403.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlmodel import col, select
from starlette.routing import BaseRoute

from sandbox.exceptions import InvalidRequest, QueueFull, SandboxError, UnknownLanguage
from sandbox.languages import get_language
from sandbox.model import RunRequest
from server.api.base import Ctx, endpoint
from server.api.schemas import Strict
from server.auth import room_role
from server.classrooms.access import room_access
from server.exceptions import BadRequest, Forbidden, NotFound, ServiceUnavailable, TooManyRequests
from server.ids import parse_id
from server.models.runs import Run
from server.runs.view import RunSummary, RunView, summary_of_row, view_of_row, with_live_output


class RunBody(Strict):
    language: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    files: dict[str, str] | None = None
    code: str | None = None
    stdin: str = ""
    args: list[str] = Field(default_factory=list, max_length=64)


class RunCreated(BaseModel):
    id: str
    status: str
    """The run's state: ``queued`` or ``running`` (``finished`` when it was that fast)."""


class RunList(BaseModel):
    runs: list[RunSummary]


@endpoint(
    "POST", "/api/rooms/{room_id:id}/runs", body=RunBody, response=RunCreated, status=202,
    tag="runs",
)  # fmt: skip
async def create_run(ctx: Ctx) -> RunCreated:
    """Run code in a room: ``files`` (path → text) or ``code`` (the language's entry file)."""
    body = ctx.body(RunBody)
    room_id = ctx.path_int("room_id")
    async with ctx.session() as session:
        await room_access(session, room_id, ctx.caller.user_id)
    if (body.files is None) == (body.code is None):
        raise BadRequest("give exactly one of 'files' and 'code'", code="invalid_body")
    try:
        files = body.files
        if files is None:
            files = {get_language(body.language).file_name: body.code or ""}
        request = RunRequest(body.language, dict(files), stdin=body.stdin, args=tuple(body.args))
        run = await ctx.components.runs.submit(request, room_id=room_id, user_id=ctx.caller.user_id)
    except UnknownLanguage as exc:
        raise BadRequest(str(exc), code="unknown_language") from None
    except InvalidRequest as exc:
        raise BadRequest(str(exc), code="invalid_request") from None
    except QueueFull as exc:
        raise TooManyRequests(str(exc), code="queue_full") from None
    except SandboxError as exc:
        raise ServiceUnavailable(str(exc), code="sandbox_unavailable") from None
    return RunCreated(id=run.id, status=run.state.value)


@endpoint("GET", "/api/runs/{run_id:str}", response=RunView, tag="runs")
async def get_run(ctx: Ctx) -> RunView:
    """A run's state, result and output: its runner's, or any of the room's for its staff."""
    run_id = ctx.request.path_params["run_id"][:64]
    runs = ctx.components.runs
    await runs.records.settled(run_id)
    async with ctx.session() as session:
        row = await session.get(Run, run_id)
        role = await room_role(session, row.room_id, ctx.caller.user_id) if row else None
    if row is None or role is None:
        raise NotFound(f"run {run_id} does not exist", code="unknown_run")
    if row.user_id != ctx.caller.user_id and not role.is_staff:
        raise Forbidden("only its runner and the room's staff may see a run", code="not_yours")
    view = view_of_row(row)
    live = runs.live(row.id)
    # Still running in this process: its output so far, fresher than the table.
    return view if live is None else with_live_output(view, live)


@endpoint("GET", "/api/rooms/{room_id:id}/runs", response=RunList, tag="runs")
async def list_runs(ctx: Ctx) -> RunList:
    """The room's latest runs (``?limit=``, at most 200): the caller's own, or all for staff."""
    room_id = ctx.path_int("room_id")
    limit = parse_id(ctx.request.query_params.get("limit", "50"))
    if limit is None or not 1 <= limit <= 200:
        raise BadRequest("limit must be a whole number from 1 to 200", code="invalid_limit")
    async with ctx.session() as session:
        access = await room_access(session, room_id, ctx.caller.user_id)
        query = select(Run).where(Run.room_id == room_id)
        if not access.is_staff:
            query = query.where(Run.user_id == ctx.caller.user_id)
        order = (col(Run.created_at).desc(), col(Run.id).desc())
        rows = (await session.exec(query.order_by(*order).limit(limit))).all()
    return RunList(runs=[summary_of_row(row) for row in rows])


routes: list[BaseRoute] = [create_run, list_runs, get_run]
