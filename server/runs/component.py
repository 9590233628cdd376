"""Runs: the one component that owns the process's dispatcher, its run records and the room
socket commands that start and control runs.

Without Redis, runs execute here on the selected backend behind a bounded
:class:`~sandbox.queue.RunQueue`; with Redis they go through the stream to
``python -m sandbox.worker`` processes. Either way a run is a
:class:`~sandbox.queue.QueuedRun` whose own log keeps its output with ``seq`` numbers: the
socket's ``run.fetch`` and the HTTP view read that log, nothing keeps a second copy.

``run.start`` runs a document the sender may read (or given files). The runner, the room's
staff and, for a pair document, the pair see ``run.started``, ``run.output`` (each chunk with
its ``seq``) and ``run.finished``; nobody else does. Runs started here stay fetchable for a
while after they end (:data:`KEEP_FINISHED`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from rooms.documents import DocKind
from rooms.events import Audience, Command, EventError
from sandbox.backend import Backend
from sandbox.demand import PoolBudget
from sandbox.exceptions import SandboxError
from sandbox.metrics import PoolCollector
from sandbox.model import Chunk, RunRequest, RunResult, RunState
from sandbox.queue import Dispatcher, OnChunk, OnState, QueuedRun, RunQueue
from sandbox.selection import operator_maxima, runs_at_once, select_backend
from server.classrooms.access import RoomAccess, room_access_now
from server.documents.source import Sources
from server.events.hub import RoomConnection, RoomHub
from server.exceptions import ApiError
from server.metrics import Metrics
from server.models.pairs import PairMember
from server.models.runs import Run
from server.operations.shutdown import ShutdownDeadline
from server.runs.demand import DemandSink, PoolDemand, PoolSink
from server.runs.records import RunRecords
from server.runs.view import finished_event, summary_of_row
from server.security.fair_runs import FairShare
from server.settings import Settings
from server.store import Store

log = logging.getLogger("classroom.runs")

KEEP_FINISHED = 500
RECENT_RUNS = 20
OnFinished = Callable[[RoomConnection, QueuedRun, RunResult, Command], Awaitable[None]]


@dataclass(frozen=True)
class Started:
    """A run started from a room socket: who may see it and control it."""

    run: QueuedRun
    room_id: int
    audience: Audience
    owner: int


class Runs:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        hub: RoomHub,
        sources: Sources,
        *,
        fair: FairShare,
        shutdown: ShutdownDeadline,
    ) -> None:
        self.settings = settings
        self.fair = fair
        self.shutdown = shutdown
        self.store = store
        self.hub = hub
        self.sources = sources
        self.metrics = metrics
        self.records = RunRecords(settings, store, metrics, self._depth)
        self.demand = PoolDemand(store, hub)
        self.backend: Backend | None = None
        self._dispatcher: Dispatcher | None = None
        self._started: OrderedDict[str, Started] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished_listeners: list[OnFinished] = []
        hub.handle("run.start", self.start_run)
        hub.handle("run.stdin", self.stdin)
        hub.handle("run.cancel", self.cancel)
        hub.handle("run.fetch", self.fetch)
        hub.snapshot_part("runs", self.recent)

    def on_finished(self, listener: OnFinished) -> None:
        """Call ``listener`` after each room-socket run started here has ended."""
        self._finished_listeners.append(listener)

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise SandboxError("the sandbox is not started")
        return self._dispatcher

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.settings
        dispatcher: Dispatcher
        if settings.redis_url:
            from sandbox.redis_queue import RedisRunQueue  # redis only with Redis

            dispatcher = RedisRunQueue(
                settings.redis_url, max_queued=settings.run_queue_size, prefix=settings.redis_prefix
            )
            log.info("runs go to sandbox workers through Redis")
        else:
            maxima = operator_maxima(
                settings.max_time_seconds, settings.max_memory_mb, settings.max_output_bytes
            )
            self.backend = await select_backend(
                settings.sandbox,
                maxima=maxima,
                docker_url=settings.docker_url,
                image_prefix=settings.image_prefix,
                pool_size=settings.pool_size,
                pool_budget=pool_budget(settings),
                pool_parallel=settings.pool_parallel,
                allow_unconfined=settings.allow_unconfined,
            )
            at_once = settings.run_concurrency or runs_at_once(
                self.backend.name, settings.pool_max_containers
            )
            self.fair.resize(at_once + settings.run_queue_size)
            dispatcher = RunQueue(self.backend, at_once, settings.run_queue_size)
            log.info("runs: %d at once, %d more queued", at_once, settings.run_queue_size)
        await dispatcher.start()
        self._dispatcher = dispatcher
        await self.records.start()
        sink: DemandSink | None = None
        if settings.redis_url:
            from server.runs.demand_redis import RedisSink

            sink = RedisSink(settings.redis_url, settings.redis_prefix)
        elif self.backend is not None and self.backend.name == "docker":
            from sandbox.docker import DockerBackend  # aiodocker only with Docker

            assert isinstance(self.backend, DockerBackend)
            sink = PoolSink(self.backend.pool.set_demand)
            self.metrics.registry.register(PoolCollector(self.backend.pool))
        await self.demand.start(sink)

    async def close(self) -> None:
        await self.demand.close()
        # runs in progress may finish within the deadline
        left = await self.shutdown.wait(list(self._tasks))
        if left:
            log.warning("shutdown deadline: cancelling %d runs in progress", left)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._dispatcher is not None:
            await self._dispatcher.close()
        await self.records.close()  # the last results, written after the runs ended
        if self.backend is not None:
            await self.backend.close()

    async def _depth(self) -> int:
        return await self.dispatcher.depth()

    # -- submitting -----------------------------------------------------------------------

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
        """Queue ``request`` for a room member and record it. Raises the dispatcher's errors,
        or 429 when the member has too many runs in flight or started too many this minute
        (server/security/fair_runs.py)."""
        await self.fair.admit(user_id)
        run = await self.dispatcher.submit(request, on_chunk=on_chunk, on_state=on_state)
        self.fair.track(user_id, run)
        await self.records.record(run, room_id=room_id, user_id=user_id, doc=doc)
        return run

    async def run_to_end(self, request: RunRequest) -> RunResult:
        """Run through the queue and wait for the result (the grader's run function)."""
        queued = await self.dispatcher.submit(request)
        return await queued.wait()

    def live(self, run_id: str) -> QueuedRun | None:
        """The run if this process is running it (or ran it lately)."""
        try:
            return self.dispatcher.get(run_id)
        except SandboxError:
            return None

    # -- room socket commands ---------------------------------------------------------------

    async def _access(self, conn: RoomConnection) -> RoomAccess:
        return await room_access_now(self.store, conn.room_id, conn.user_id)

    async def _audience(self, room_id: int, user_id: int, pair_group: str | None) -> Audience:
        users = {user_id}
        if pair_group is not None:
            async with self.store.session() as session:
                rows = await session.exec(
                    select(PairMember.user_id).where(
                        PairMember.room_id == room_id, PairMember.group == pair_group
                    )
                )
                users |= set(rows.all())
        return Audience(staff=True, users=frozenset(users))

    async def start_run(self, conn: RoomConnection, command: Command) -> None:
        try:
            room = await self._access(conn)
            source = await self.sources.source_for(
                room, doc=command.get("doc"), files=command.get("files")
            )
        except ApiError as exc:
            raise EventError(exc.code, exc.message) from None
        args = command.get("args") or []
        if not all(isinstance(a, str) for a in args) or len(args) > 50:
            raise EventError("invalid_field", "run.start: 'args' must be a list of strings")
        request = RunRequest(
            language=command.get("language"),
            files=source.files,
            stdin=command.get("stdin") or "",
            args=tuple(args),
            interactive=command.get("stdin") is None,
        )
        pair = source.doc.owner if source.doc and source.doc.kind is DocKind.PAIR else None
        audience = await self._audience(conn.room_id, conn.user_id, pair)
        events: asyncio.Queue[Chunk | RunState] = asyncio.Queue()
        doc_name = str(source.doc) if source.doc else None
        try:
            queued = await self.submit(
                request,
                room_id=conn.room_id,
                user_id=conn.user_id,
                doc=doc_name,
                on_chunk=lambda _run, chunk: events.put_nowait(chunk),
                on_state=lambda run: events.put_nowait(run.state),
            )
        except ApiError as exc:  # too many runs in flight
            raise EventError(exc.code, exc.message) from None
        except SandboxError as exc:
            raise EventError(_snake(type(exc).__name__), str(exc)) from None
        self._remember(Started(queued, conn.room_id, audience, conn.user_id))
        self.demand.saw_run(conn.room_id, request.language)
        started = {
            "type": "run.started",
            "run_id": queued.id,
            "user": {"id": conn.user_id, "name": conn.name},
            "language": request.language,
            "doc": doc_name,
            "ref": command.ref,
        }
        task = asyncio.create_task(
            self._forward(conn, queued, audience, events, started=started, command=command),
            name=f"run-{queued.id}-events",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(
        self,
        conn: RoomConnection,
        run: QueuedRun,
        audience: Audience,
        events: asyncio.Queue[Chunk | RunState],
        *,
        started: dict[str, Any],
        command: Command,
    ) -> None:
        room_id = conn.room_id
        announced = False
        try:
            while True:
                item = await events.get()
                if isinstance(item, Chunk):
                    if not announced:
                        announced = True
                        await self.hub.publish(room_id, audience, {**started, "state": "running"})
                    event = {"type": "run.output", "run_id": run.id, **item.to_dict()}
                    await self.hub.publish(room_id, audience, event)
                elif item is RunState.QUEUED:
                    await self.hub.publish(room_id, audience, {**started, "state": "queued"})
                elif item is RunState.RUNNING and not announced:
                    announced = True
                    await self.hub.publish(room_id, audience, {**started, "state": "running"})
                elif item is RunState.FINISHED:
                    break
            result = await run.wait()
            await self.hub.publish(room_id, audience, finished_event(run.id, result))
            for listener in self._finished_listeners:
                await listener(conn, run, result, command)
        except Exception:
            log.error("room %s run %s: forwarding failed", room_id, run.id, exc_info=True)

    def _remember(self, started: Started) -> None:
        self._started[started.run.id] = started
        while len(self._started) > KEEP_FINISHED:
            oldest, first = next(iter(self._started.items()))
            if first.run.state is not RunState.FINISHED:
                break
            del self._started[oldest]

    def _found(self, conn: RoomConnection, run_id: str) -> Started:
        found = self._started.get(run_id)
        if found is None or found.room_id != conn.room_id:
            raise EventError("unknown_run", f"no run {run_id[:40]} of this room on this server")
        return found

    def _own(self, conn: RoomConnection, run_id: str) -> QueuedRun:
        found = self._found(conn, run_id)
        if found.owner != conn.user_id and not conn.is_staff:
            raise EventError("not_yours", "only its runner or the staff may control this run")
        return found.run

    async def stdin(self, conn: RoomConnection, command: Command) -> None:
        run = self._own(conn, command.get("run_id"))
        if run.state is RunState.FINISHED:
            raise EventError("run_finished", "the program has already ended")
        if command.get("data"):
            await run.write_stdin(command.get("data"))
        if command.get("eof"):
            await run.close_stdin()

    async def cancel(self, conn: RoomConnection, command: Command) -> None:
        await self._own(conn, command.get("run_id")).cancel()

    async def fetch(self, conn: RoomConnection, command: Command) -> None:
        found = self._found(conn, command.get("run_id"))
        if not found.audience.includes(conn.user_id, conn.role):
            raise EventError("not_yours", "you may not see this run")
        after = command.get("after", -1)
        chunks = [c.to_dict() for c in found.run.output() if c.seq > after]
        conn.send({"type": "run.chunks", "run_id": found.run.id, "after": after, "chunks": chunks})

    async def recent(self, conn: RoomConnection) -> list[dict[str, Any]]:
        """The ``runs`` part of ``room.snapshot``: the caller's latest runs in the room, or for
        staff the room's (the dashboard's "recent runs")."""
        async with self.store.session() as session:
            query = select(Run).where(Run.room_id == conn.room_id)
            if not conn.is_staff:
                query = query.where(Run.user_id == conn.user_id)
            rows = await session.exec(query.order_by(col(Run.created_at).desc()).limit(RECENT_RUNS))
            return [summary_of_row(row).model_dump(mode="json") for row in rows.all()]


def pool_budget(settings: Settings) -> PoolBudget:
    return PoolBudget(settings.pool_size, settings.pool_max_containers, settings.pool_memory_mb)


def _snake(name: str) -> str:
    out = "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)
    return out.lstrip("_")
