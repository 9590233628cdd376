"""Runs started from a room socket, streamed live to the people who should see them.

``run.start`` runs a document the sender may read (or given files). The runner, the room's
staff and, for a pair document, the pair see ``run.started``, ``run.output`` (each chunk
with its per-run ``seq``) and ``run.finished``; nobody else does. ``run.stdin`` and
``run.cancel`` reach the program; ``run.fetch`` replays the chunks after a ``seq`` to a client
that saw a gap. Runs submitted by this process stay fetchable for a while after they end.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, select

from rooms.documents import DocKind
from rooms.events import Audience, Command, EventError
from sandbox.backend import Backend
from sandbox.exceptions import SandboxError
from sandbox.model import Chunk, RunRequest, RunResult, RunState
from sandbox.queue import Dispatcher, QueuedRun, RunQueue
from sandbox.redis_queue import RedisRunQueue
from sandbox.select import operator_maxima, select_backend
from server.access import RoomAccess, room_access
from server.auth import Caller
from server.exceptions import ApiError
from server.hub import RoomConnection, RoomHub
from server.models import UserKind
from server.models.pairs import PairMember
from server.models.runs import Run
from server.operations.shutdown import ShutdownDeadline
from server.source import source_for
from server.state import AppState

log = logging.getLogger("classroom.runs")

KEEP_FINISHED = 500
OnFinished = Callable[[RoomConnection, QueuedRun, RunResult, Command], Awaitable[None]]


def finished_event(run_id: str, result: RunResult) -> dict[str, Any]:
    return {
        "type": "run.finished",
        "run_id": run_id,
        "status": result.status.value,
        "exit_code": result.exit_code,
        "signal": result.signal,
        "time_ms": round(result.wall_ms, 1),
        "cpu_ms": result.cpu_ms,
        "memory_peak_bytes": result.memory_peak_bytes,
        "message": result.message,
        "compile_output": result.compile_output,
    }


class LiveRuns:
    """The process's run dispatcher (started in the lifespan) and the room run commands.

    Without Redis, runs execute here on the selected backend behind a bounded :class:`RunQueue`;
    with Redis, they go through the stream to ``python -m sandbox.worker`` processes.
    """

    def __init__(self, state: AppState, hub: RoomHub) -> None:
        self.state = state
        self.hub = hub
        self._dispatcher: Dispatcher | None = None
        self.backend: Backend | None = None
        self._runs: OrderedDict[str, tuple[QueuedRun, int, Audience, int]] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen: dict[str, list[Chunk]] = {}
        self.finished_listeners: list[OnFinished] = []
        self.shutdown: ShutdownDeadline | None = None  # set by the app: see server/operations
        hub.handle("run.start", self.start_run)
        hub.handle("run.stdin", self.stdin)
        hub.handle("run.cancel", self.cancel)
        hub.handle("run.fetch", self.fetch)

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise SandboxError("the sandbox is not started")
        return self._dispatcher

    async def start(self) -> None:
        settings = self.state.settings
        dispatcher: Dispatcher
        if settings.redis_url:
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
            )
            dispatcher = RunQueue(self.backend, settings.run_concurrency, settings.run_queue_size)
        await dispatcher.start()
        self._dispatcher = dispatcher

    async def run_to_end(self, request: RunRequest) -> RunResult:
        """Run through the queue and wait for the result (the grader's run function)."""
        queued = await self.dispatcher.submit(request)
        return await queued.wait()

    async def close(self) -> None:
        if self.shutdown is not None:  # runs in progress may finish within the deadline
            left = await self.shutdown.wait(list(self._tasks))
            if left:
                log.warning("shutdown deadline: cancelling %d runs in progress", left)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._dispatcher is not None:
            await self._dispatcher.close()
        if self.backend is not None:
            await self.backend.close()

    async def _access(self, conn: RoomConnection) -> RoomAccess:
        async with self.state.store.session() as session:
            return await room_access(session, conn.room_id, Caller(conn.user_id, UserKind.STUDENT))

    async def _audience(self, room_id: int, user_id: int, pair_group: str | None) -> Audience:
        users = {user_id}
        if pair_group is not None:
            async with self.state.store.session() as session:
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
            source = await source_for(
                self.state, room, doc=command.get("doc"), files=command.get("files")
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
        try:
            queued = await self.dispatcher.submit(
                request,
                on_chunk=lambda _run, chunk: events.put_nowait(chunk),
                on_state=lambda run: events.put_nowait(run.state),
            )
        except SandboxError as exc:
            code = type(exc).__name__
            raise EventError(_snake(code), str(exc)) from None
        self._remember(queued, conn.room_id, audience, conn.user_id)
        doc_name = str(source.doc) if source.doc else None
        if "runs" in self.state.components:  # the Run table record and run metrics
            await self.state.get("runs").record(
                queued, room_id=conn.room_id, user_id=conn.user_id, doc=doc_name
            )
        started = {
            "type": "run.started",
            "run_id": queued.id,
            "user": {"id": conn.user_id, "name": conn.name},
            "language": request.language,
            "doc": str(source.doc) if source.doc else None,
            "ref": command.ref,
        }
        task = asyncio.create_task(
            self._forward(
                conn, queued, audience=audience, events=events, started=started, command=command
            ),
            name=f"run-{queued.id}-events",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(
        self,
        conn: RoomConnection,
        run: QueuedRun,
        *,
        audience: Audience,
        events: asyncio.Queue[Chunk | RunState],
        started: dict[str, Any],
        command: Command,
    ) -> None:
        room_id = conn.room_id
        announced = False
        try:
            while True:
                item = await events.get()
                if isinstance(item, Chunk):
                    self._seen.setdefault(run.id, []).append(item)
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
            for listener in self.finished_listeners:
                await listener(conn, run, result, command)
        except Exception:
            log.error("room %s run %s: forwarding failed", room_id, run.id, exc_info=True)

    def _remember(self, run: QueuedRun, room_id: int, audience: Audience, owner: int) -> None:
        self._runs[run.id] = (run, room_id, audience, owner)
        while len(self._runs) > KEEP_FINISHED:
            oldest, (old, *_rest) = next(iter(self._runs.items()))
            if old.state is not RunState.FINISHED:
                break
            del self._runs[oldest]
            self._seen.pop(oldest, None)

    def _own(self, conn: RoomConnection, run_id: str) -> QueuedRun:
        found = self._runs.get(run_id)
        if found is None or found[1] != conn.room_id:
            raise EventError("unknown_run", f"no run {run_id[:40]} of this room on this server")
        run, _room, _audience, owner = found
        if owner != conn.user_id and not conn.is_staff:
            raise EventError("not_yours", "only its runner or the staff may control this run")
        return run

    async def stdin(self, conn: RoomConnection, command: Command) -> None:
        run = self._own(conn, command.get("run_id"))
        if run.state is RunState.FINISHED:
            raise EventError("run_finished", "the program has already ended")
        if command.get("data"):
            await run.write_stdin(command.get("data"))
        if command.get("eof"):
            await run.close_stdin()

    async def cancel(self, conn: RoomConnection, command: Command) -> None:
        run = self._own(conn, command.get("run_id"))
        await run.cancel()

    async def fetch(self, conn: RoomConnection, command: Command) -> None:
        found = self._runs.get(command.get("run_id"))
        if found is None or found[1] != conn.room_id:
            raise EventError("unknown_run", "that run's output is no longer available here")
        run, _room, audience, _owner = found
        if not audience.includes(conn.user_id, conn.role):
            raise EventError("not_yours", "you may not see this run")
        after = command.get("after", -1)
        chunks = [c.to_dict() for c in self._seen.get(run.id, ()) if c.seq > after]
        conn.send({"type": "run.chunks", "run_id": run.id, "after": after, "chunks": chunks})


def _snake(name: str) -> str:
    out = "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)
    return out.lstrip("_")


RECENT_RUNS = 20


async def recent_runs(state: AppState, conn: RoomConnection) -> list[dict[str, Any]]:
    """The ``runs`` part of ``room.snapshot``: the caller's latest runs in the room, or for
    staff the room's (the dashboard's "recent runs")."""
    async with state.store.session() as session:
        query = select(Run).where(Run.room_id == conn.room_id)
        if not conn.is_staff:
            query = query.where(Run.user_id == conn.user_id)
        rows = await session.exec(query.order_by(col(Run.created_at).desc()).limit(RECENT_RUNS))
        return [
            {
                "run_id": run.id,
                "user_id": run.user_id,
                "language": run.language,
                "doc": run.doc,
                "state": run.state,
                "status": run.status,
                "exit_code": run.exit_code,
                "time_ms": run.wall_ms,
                "created_at": run.created_at.isoformat(),
            }
            for run in rows.all()
        ]


def install(state: AppState) -> LiveRuns:
    live = LiveRuns(state, state.get("hub"))

    async def runs_part(conn: RoomConnection) -> list[dict[str, Any]]:
        return await recent_runs(state, conn)

    live.hub.snapshot_part("runs", runs_part)
    state.add("live_runs", live)
    return live
