"""Runs of a room over HTTP, and the record of every room run in the ``runs`` table.

:class:`RoomRuns` submits through the process's dispatcher (owned by ``live_runs``: a local
:class:`~sandbox.queue.RunQueue` or the Redis stream to workers), writes a ``Run`` row before
``submit`` returns (so a GET right after the POST finds it), marks it ``running`` and completes
it when the run ends, and keeps the run metrics. Room socket runs are recorded through
:meth:`RoomRuns.record` the same way.

Who sees a run: its runner, and the room's instructors and assistants. Someone outside the
room's classroom gets 404 (a run id tells them nothing), a student asking for another's run
403. Listening to a run's chunks and states is the dispatcher's: ``submit(on_chunk=,
on_state=)``, or iterate ``QueuedRun.chunks()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, Field, StringConstraints
from sqlmodel import col, select
from starlette.routing import BaseRoute

from sandbox.exceptions import InvalidRequest, QueueFull, SandboxError, UnknownLanguage
from sandbox.languages import get_language
from sandbox.model import RunRequest, RunResult, RunState, RunStatus
from sandbox.queue import Dispatcher, OnChunk, OnState, QueuedRun
from server.access import room_access
from server.api.base import Ctx, endpoint
from server.api.schemas import Strict
from server.auth import room_role
from server.exceptions import BadRequest, Forbidden, NotFound, ServiceUnavailable, TooManyRequests
from server.models.clock import utcnow
from server.models.runs import STORED_OUTPUT_CHARS, Run
from server.state import AppState

log = logging.getLogger("classroom.runs")


class RoomRuns:
    """Room runs: submit and record them, count them. ``dispatcher`` is looked up per call
    (its owner starts it in the lifespan)."""

    def __init__(self, state: AppState, dispatcher: Callable[[], Dispatcher]) -> None:
        self.state = state
        self._dispatcher = dispatcher
        self._tasks: set[asyncio.Task[None]] = set()
        self._recording: dict[str, tuple[QueuedRun, asyncio.Task[None]]] = {}
        registry = state.metrics.registry
        self.finished = Counter(
            "classroom_runs_total", "Finished runs by language and status.",
            ["language", "status"], registry=registry,
        )  # fmt: skip
        self.depth = Gauge("classroom_run_queue_depth", "Runs waiting to start.", registry=registry)
        self.running = Gauge(
            "classroom_runs_running", "Runs of this process running now.", registry=registry
        )
        self.duration = Histogram(
            "classroom_run_seconds", "Wall time of finished runs.", ["language"],
            registry=registry, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
        )  # fmt: skip

    @property
    def dispatcher(self) -> Dispatcher:
        return self._dispatcher()

    async def start(self) -> None:
        """Settle the records of runs a previous process left unfinished (it crashed or was
        killed). Only a lone process without Redis can know that every run was its own."""
        settings = self.state.settings
        if settings.redis_url or settings.workers != 1:
            return
        async with self.state.store.session() as session:
            rows = await session.exec(select(Run).where(Run.state != RunState.FINISHED.value))
            stale = rows.all()
            for row in stale:
                row.state, row.status = RunState.FINISHED.value, RunStatus.INTERNAL_ERROR.value
                row.message = "the server stopped before the run ended"
                row.finished_at = utcnow()
                session.add(row)
        if stale:
            log.warning("marked %d runs left unfinished by a previous server as lost", len(stale))

    async def close(self) -> None:
        """Let the records of runs that ended during shutdown be written (bounded)."""
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()

    async def submit(
        self,
        request: RunRequest,
        *,
        room_id: int,
        user_id: int,
        doc: str | None = None,
        on_chunk: OnChunk | None = None,
        on_state: OnState | None = None,
    ) -> QueuedRun:
        """Queue ``request`` for a room member and record it. Raises the dispatcher's errors."""
        fair = self.state.get("security").fair
        fair.check(user_id)  # server/security/fair_runs.py
        run = await self.dispatcher.submit(request, on_chunk=on_chunk, on_state=on_state)
        fair.track(user_id, run)
        await self.record(run, room_id=room_id, user_id=user_id, doc=doc)
        return run

    async def record(
        self, run: QueuedRun, *, room_id: int, user_id: int, doc: str | None = None
    ) -> None:
        """Write ``run``'s row now, and complete it when the run ends. A failure to write is
        logged, never raised: the run itself goes on either way."""
        try:
            async with self.state.store.session() as session:
                session.add(
                    Run(
                        id=run.id,
                        room_id=room_id,
                        user_id=user_id,
                        language=run.request.language,
                        doc=doc,
                        state=run.state.value,
                    )
                )
        except Exception:
            log.error("room %s run %s: cannot record it", room_id, run.id, exc_info=True)
        task = asyncio.create_task(self._follow(run), name=f"record-run-{run.id}")
        self._tasks.add(task)
        self._recording[run.id] = (run, task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _t: self._recording.pop(run.id, None))
        await self._gauge()

    async def recorded(self, run_id: str) -> None:
        """Return once the run's row is complete (at once if it is not being recorded here)."""
        found = self._recording.get(run_id)
        if found is not None:
            await asyncio.shield(found[1])

    async def settled(self, run_id: str) -> None:
        """If the run has just ended here, wait (briefly) for its row to say so: whoever saw
        ``run.finished`` and then asks the API must see the result."""
        found = self._recording.get(run_id)
        if found is not None and found[0].state is RunState.FINISHED:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await asyncio.shield(found[1])

    def live(self, run_id: str) -> QueuedRun | None:
        try:
            return self.dispatcher.get(run_id)
        except SandboxError:
            return None

    async def _follow(self, run: QueuedRun) -> None:
        try:
            await run.until(RunState.RUNNING)
            if run.state is RunState.RUNNING:
                await self._update(run.id, state=RunState.RUNNING.value)
                self.running.inc()
                await self._gauge()
                try:
                    result = await run.wait()
                finally:
                    self.running.dec()
            else:
                result = await run.wait()  # cancelled while queued
            await self._finish(run, result)
        except Exception:  # task boundary: a lost record must not go unnoticed
            log.error("run %s: recording it failed", run.id, exc_info=True)

    async def _finish(self, run: QueuedRun, result: RunResult) -> None:
        language = run.request.language
        self.finished.labels(language, result.status.value).inc()
        self.duration.labels(language).observe(result.wall_ms / 1000.0)
        await self._update(
            run.id,
            state=RunState.FINISHED.value,
            status=result.status.value,
            exit_code=result.exit_code,
            signal=result.signal,
            wall_ms=result.wall_ms,
            cpu_ms=result.cpu_ms,
            memory_peak=result.memory_peak_bytes,
            stdout=result.stdout[:STORED_OUTPUT_CHARS],
            stderr=result.stderr[:STORED_OUTPUT_CHARS],
            compile_output=result.compile_output[:STORED_OUTPUT_CHARS],
            message=result.message[:2000],
            finished_at=utcnow(),
        )
        await self._gauge()

    async def _update(self, run_id: str, **values: object) -> None:
        async with self.state.store.session() as session:
            row = await session.get(Run, run_id)
            if row is None:
                return
            if row.state == RunState.FINISHED.value and values.get("state") != "finished":
                return  # never move a finished record back
            for key, value in values.items():
                setattr(row, key, value)
            session.add(row)

    async def _gauge(self) -> None:
        try:
            self.depth.set(await self.dispatcher.depth())
        except Exception:  # metrics must never fail a run
            log.debug("run queue depth unavailable", exc_info=True)


# -- HTTP ---------------------------------------------------------------------------------


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


class RunView(BaseModel):
    id: str
    room_id: int
    user_id: int
    language: str
    doc: str | None
    state: str
    status: str | None
    exit_code: int | None
    signal: str | None
    wall_ms: float | None
    cpu_ms: float | None
    memory_peak_bytes: int | None
    stdout: str
    stderr: str
    compile_output: str
    message: str
    created_at: datetime
    finished_at: datetime | None


def room_runs(ctx: Ctx) -> RoomRuns:
    runs: RoomRuns = ctx.state.get("runs")
    return runs


@endpoint(
    "POST", "/api/rooms/{room_id:int}/runs", body=RunBody, response=RunCreated, status=202,
    tag="runs",
)  # fmt: skip
async def create_run(ctx: Ctx) -> RunCreated:
    """Run code in a room: ``files`` (path → text) or ``code`` (the language's entry file)."""
    body = ctx.body(RunBody)
    room_id = ctx.path_int("room_id")
    async with ctx.session() as session:
        await room_access(session, room_id, ctx.caller)
    if (body.files is None) == (body.code is None):
        raise BadRequest("give exactly one of 'files' and 'code'", code="invalid_body")
    try:
        files = body.files
        if files is None:
            files = {get_language(body.language).file_name: body.code or ""}
        request = RunRequest(body.language, dict(files), stdin=body.stdin, args=tuple(body.args))
        run = await room_runs(ctx).submit(request, room_id=room_id, user_id=ctx.caller.user_id)
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
    await room_runs(ctx).settled(run_id)
    async with ctx.session() as session:
        row = await session.get(Run, run_id)
        role = await room_role(session, row.room_id, ctx.caller.user_id) if row else None
    if row is None or role is None:
        raise NotFound(f"run {run_id} does not exist", code="unknown_run")
    if row.user_id != ctx.caller.user_id and not role.is_staff:
        raise Forbidden("only its runner and the room's staff may see a run", code="not_yours")
    view = RunView(**row.model_dump(exclude={"memory_peak"}), memory_peak_bytes=row.memory_peak)
    live = room_runs(ctx).live(row.id)
    if live is not None and live.state is not RunState.FINISHED:
        # Still running in this process: its output so far, fresher than the table.
        out = {"stdout": "", "stderr": ""}
        for chunk in live.output():
            out[chunk.stream] += chunk.data
        view.state, view.stdout, view.stderr = live.state.value, out["stdout"], out["stderr"]
    return view


class RunSummary(BaseModel):
    id: str
    user_id: int
    language: str
    doc: str | None
    state: str
    status: str | None
    exit_code: int | None
    wall_ms: float | None
    created_at: datetime


class RunList(BaseModel):
    runs: list[RunSummary]


@endpoint("GET", "/api/rooms/{room_id:int}/runs", response=RunList, tag="runs")
async def list_runs(ctx: Ctx) -> RunList:
    """The room's latest runs (``?limit=``, at most 200): the caller's own, or all for staff."""
    room_id = ctx.path_int("room_id")
    raw = ctx.request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise BadRequest("limit must be a whole number from 1 to 200", code="invalid_limit")
    async with ctx.session() as session:
        access = await room_access(session, room_id, ctx.caller)
        query = select(Run).where(Run.room_id == room_id)
        if not access.is_staff:
            query = query.where(Run.user_id == ctx.caller.user_id)
        order = (col(Run.created_at).desc(), col(Run.id).desc())
        rows = (await session.exec(query.order_by(*order).limit(int(raw)))).all()
    return RunList(runs=[RunSummary.model_validate(row, from_attributes=True) for row in rows])


routes: list[BaseRoute] = [create_run, list_runs, get_run]


def install(state: AppState) -> RoomRuns:
    runs = RoomRuns(state, lambda: state.get("live_runs").dispatcher)
    state.add("runs", runs)
    return runs
