"""The record of every room run in the ``runs`` table, and the run metrics.

:class:`RunRecords` belongs to :class:`~server.runs.component.Runs`: it writes a ``Run`` row
before ``submit`` returns (so a GET right after the POST finds it), marks it ``running`` and
completes it when the run ends.

A room keeps a user's newest ``runs_kept_per_user`` finished runs (rule 5 of
server/security/fair_runs.py): every ``keep // 10`` runs of a user, recorded here, the older
finished ones are deleted, so a user holds at most ``keep + keep // 10`` rows of a room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Delete, Integer, String, bindparam, delete, insert, update
from sqlmodel import Session, col, select

from sandbox.model import RunResult, RunState, RunStatus
from sandbox.output import storable
from sandbox.queue import QueuedRun
from server.metrics import Metrics
from server.models.clock import utcnow
from server.models.runs import STORED_OUTPUT_CHARS, Run
from server.settings import Settings
from server.store import Store

log = logging.getLogger("classroom.runs")


class RunRecords:
    """Rows and metrics of room runs. ``depth`` reads the queue depth for the gauge."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        depth: Callable[[], Awaitable[int]],
    ) -> None:
        self.settings = settings
        self.store = store
        self._depth = depth
        self._tasks: set[asyncio.Task[None]] = set()
        self._recording: dict[str, tuple[QueuedRun, asyncio.Task[None]]] = {}
        self.keep = settings.runs_kept_per_user
        self._prune = _prune_statement(self.keep) if self.keep > 0 else None
        self._since_pruned: dict[tuple[int, int], int] = {}
        registry = metrics.registry
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

    async def start(self) -> None:
        """Settle the records of runs a previous process left unfinished (it crashed or was
        killed). Only a lone process without Redis can know that every run was its own."""
        settings = self.settings
        if settings.redis_url or settings.workers != 1:
            return
        async with self.store.session() as session:
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

    async def record(
        self, run: QueuedRun, *, room_id: int, user_id: int, doc: str | None = None
    ) -> None:
        """Write ``run``'s row now, and complete it when the run ends. A failure to write is
        logged, never raised: the run itself goes on either way."""
        row = Run(
            id=run.id,
            room_id=room_id,
            user_id=user_id,
            language=run.request.language,
            doc=doc,
            state=run.state.value,
        )
        try:
            await self.store.threaded.write(partial(_insert, row=row))
        except Exception:
            log.error("room %s run %s: cannot record it", room_id, run.id, exc_info=True)
        task = asyncio.create_task(
            self._follow(run, (room_id, user_id)), name=f"record-run-{run.id}"
        )
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

    async def _follow(self, run: QueuedRun, owner: tuple[int, int]) -> None:
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
            await self._pruned(owner)
        except Exception:  # task boundary: a lost record must not go unnoticed
            log.error("run %s: recording it failed", run.id, exc_info=True)

    async def _pruned(self, owner: tuple[int, int]) -> None:
        """Every ``keep // 10`` runs of ``owner`` (room, user), delete their finished runs
        older than the newest ``keep``."""
        if self._prune is None:
            return
        count = self._since_pruned.get(owner, 0) + 1
        if count < max(1, self.keep // 10):
            self._since_pruned[owner] = count
            return
        self._since_pruned.pop(owner, None)
        room_id, user_id = owner
        params = {"prune_room": room_id, "prune_user": user_id}
        prune = self._prune
        await self.store.threaded.write(lambda session: session.exec(prune, params=params))

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
            # A program may write NUL, which PostgreSQL's text cannot hold (security/text.py 4).
            stdout=storable(result.stdout[:STORED_OUTPUT_CHARS]),
            stderr=storable(result.stderr[:STORED_OUTPUT_CHARS]),
            compile_output=storable(result.compile_output[:STORED_OUTPUT_CHARS]),
            message=storable(result.message[:2000]),
            finished_at=utcnow(),
        )
        await self._gauge()

    async def _update(self, run_id: str, **values: object) -> None:
        """One ``UPDATE`` of the run's row (none when it is gone); a finished record is never
        moved back to an earlier state."""
        finished = values.get("state") == RunState.FINISHED.value
        statement = _COMPLETE if finished else _UNLESS_FINISHED
        params = {**values, "run_id": run_id}
        await self.store.threaded.write(lambda session: session.exec(statement, params=params))

    async def _gauge(self) -> None:
        try:
            self.depth.set(await self._depth())
        except Exception:  # metrics must never fail a run
            log.debug("run queue depth unavailable", exc_info=True)


# Built once: each run writes its row and updates it twice, and building a statement costs
# more than running it (server/thread_sessions.py). An UPDATE's SET columns are the keys of
# its parameters beside ``run_id``.
_INSERT = insert(Run.__table__)  # type: ignore[attr-defined]
_COMPLETE = update(Run.__table__).where(  # type: ignore[attr-defined]
    col(Run.id) == bindparam("run_id", type_=String)
)
_UNLESS_FINISHED = _COMPLETE.where(col(Run.state) != RunState.FINISHED.value)


def _prune_statement(keep: int) -> Delete:
    """Delete an owner's finished runs older than their newest ``keep`` (``prune_room``,
    ``prune_user``)."""
    table = Run.__table__  # type: ignore[attr-defined]
    owner = (table.c.room_id == bindparam("prune_room", type_=Integer)) & (
        table.c.user_id == bindparam("prune_user", type_=Integer)
    )
    newest = (
        select(table.c.id)
        .where(owner)
        .order_by(table.c.created_at.desc(), table.c.id.desc())
        .limit(keep)
    )
    return (
        delete(table)
        .where(owner, table.c.state == RunState.FINISHED.value)
        .where(table.c.id.not_in(newest.scalar_subquery()))
    )


def _insert(session: Session, *, row: Run) -> None:
    session.exec(_INSERT, params=row.model_dump())
