"""The run queue: a bounded line of runs in front of a backend, at most ``concurrency`` at once.

A submitter gets a :class:`QueuedRun` at once; the run moves ``queued → running → finished``
(or ``queued → finished`` when cancelled before it started), each transition once; anything
else raises :class:`~sandbox.exceptions.StateError`.

Listening: pass ``on_chunk(run, chunk)`` / ``on_state(run)`` to :meth:`RunQueue.submit`.
They are called synchronously on the event loop, in order, for every chunk and every state
(``queued`` included) and must not block: to do I/O, hand the event to a task or a queue.
An exception in a listener is logged and does not disturb the run. Any number of readers may
also iterate :meth:`QueuedRun.chunks` (which replays from the first chunk, or from ``after``)
and await :meth:`QueuedRun.wait`.

Two implementations of :class:`Dispatcher`: :class:`RunQueue` (this process runs the code on
its backend) and :class:`sandbox.redis_queue.RedisRunQueue` (workers elsewhere run it).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from sandbox.backend import Backend, Execution
from sandbox.exceptions import QueueFull, SandboxError, StateError
from sandbox.model import Chunk, RunRequest, RunResult, RunState, RunStatus
from sandbox.validate import check_request

log = logging.getLogger("classroom.sandbox")

OnChunk = Callable[["QueuedRun", Chunk], object]
OnState = Callable[["QueuedRun"], object]

_NEXT: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.FINISHED}),
    RunState.RUNNING: frozenset({RunState.FINISHED}),
    RunState.FINISHED: frozenset(),
}


class Control(Protocol):
    """Where stdin and cancel go once a run has started (an Execution, a Redis channel)."""

    async def write_stdin(self, data: str) -> None: ...

    async def close_stdin(self) -> None: ...

    async def cancel(self) -> None: ...


class QueuedRun:
    """A submitted run as its submitter sees it. Drivers call :meth:`started`,
    :meth:`add_chunk` and :meth:`finish`; everyone else reads."""

    def __init__(
        self,
        request: RunRequest,
        *,
        run_id: str | None = None,
        on_chunk: OnChunk | None = None,
        on_state: OnState | None = None,
        on_queued_cancel: Callable[[QueuedRun], Awaitable[None]] | None = None,
    ) -> None:
        self.id = run_id or uuid.uuid4().hex
        self.request = request
        self.state = RunState.QUEUED
        self.result: RunResult | None = None
        self._on_chunk = on_chunk
        self._on_state = on_state
        self._on_queued_cancel = on_queued_cancel
        self._log: list[Chunk] = []
        self._changed = asyncio.Event()
        self._done: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
        self._control: Control | None = None
        self._stdin: list[str] = []
        self._stdin_closed = False
        self._cancel_requested = False

    def __repr__(self) -> str:
        return f"<QueuedRun {self.id} {self.request.language} {self.state}>"

    # -- readers -------------------------------------------------------------------------

    async def chunks(self, after: int = -1) -> AsyncIterator[Chunk]:
        """Every chunk with ``seq > after``, then live ones, until the run has finished."""
        i = next((n for n, c in enumerate(self._log) if c.seq > after), len(self._log))
        while True:
            while i < len(self._log):
                yield self._log[i]
                i += 1
            if self.state is RunState.FINISHED:
                return
            await self._changed.wait()

    async def wait(self) -> RunResult:
        return await asyncio.shield(self._done)

    async def until(self, state: RunState) -> None:
        """Return once the run has reached ``state`` (or gone past it)."""
        order = list(RunState)
        while order.index(self.state) < order.index(state):
            await self._changed.wait()

    def output(self) -> list[Chunk]:
        """The chunks so far, without waiting."""
        return list(self._log)

    async def write_stdin(self, data: str) -> None:
        if self._control is not None:
            await self._control.write_stdin(data)
        elif not self._stdin_closed:
            self._stdin.append(data)

    async def close_stdin(self) -> None:
        self._stdin_closed = True
        if self._control is not None:
            await self._control.close_stdin()

    async def cancel(self) -> None:
        """Stop the run; while it is still queued it finishes ``cancelled`` without starting."""
        self._cancel_requested = True
        if self.state is RunState.QUEUED:
            self.finish(RunResult(RunStatus.CANCELLED, message="cancelled before it started"))
            if self._on_queued_cancel is not None:
                await self._on_queued_cancel(self)
        elif self._control is not None and self.state is RunState.RUNNING:
            await self._control.cancel()

    # -- drivers -------------------------------------------------------------------------

    async def started(self, control: Control) -> None:
        """The run is running; stdin written while it waited is passed on now."""
        self._move(RunState.RUNNING)
        self._control = control
        for data in self._stdin:
            await control.write_stdin(data)
        self._stdin.clear()
        if self._stdin_closed:
            await control.close_stdin()

    def add_chunk(self, chunk: Chunk) -> None:
        if self.state is RunState.FINISHED:
            return
        self._log.append(chunk)
        self._wake()
        self._call(self._on_chunk, self, chunk)

    def finish(self, result: RunResult) -> None:
        self._move(RunState.FINISHED)
        self.result = result
        self._control = None
        self._done.set_result(result)

    def announce(self) -> None:
        """Tell ``on_state`` about the initial ``queued`` state (the submitter calls it once)."""
        self._call(self._on_state, self)

    def _move(self, state: RunState) -> None:
        if state not in _NEXT[self.state]:
            raise StateError(f"run {self.id}: illegal transition {self.state} -> {state}")
        self.state = state
        self._wake()
        self._call(self._on_state, self)

    def _wake(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    @staticmethod
    def _call(listener: Callable[..., object] | None, *args: object) -> None:
        if listener is None:
            return
        try:
            listener(*args)
        except Exception:
            log.error("run listener %r failed", listener, exc_info=True)


class Dispatcher(Protocol):
    """What the server holds: :class:`RunQueue` or :class:`~sandbox.redis_queue.RedisRunQueue`."""

    @property
    def running(self) -> int:
        """Runs of this process that are running now."""

    async def start(self) -> None: ...

    async def submit(
        self,
        request: RunRequest,
        *,
        on_chunk: OnChunk | None = None,
        on_state: OnState | None = None,
    ) -> QueuedRun:
        """Raises ``UnknownLanguage``, ``InvalidRequest`` or ``QueueFull``."""

    def get(self, run_id: str) -> QueuedRun | None:
        """A run of this process that has not finished yet."""

    async def depth(self) -> int:
        """Runs waiting to start (for Redis: in the whole stream)."""

    async def close(self) -> None: ...


def queue_full(waiting: int) -> QueueFull:
    return QueueFull(f"run queue is full ({waiting} waiting); try again shortly")


class RunQueue:
    """Runs on ``backend`` in this process. See the module note for listening."""

    def __init__(self, backend: Backend, concurrency: int, max_queued: int) -> None:
        if concurrency < 1 or max_queued < 0:
            raise ValueError("concurrency must be >= 1 and max_queued >= 0")
        self.backend = backend
        self.concurrency = concurrency
        self.max_queued = max_queued
        self._line: collections.deque[QueuedRun] = collections.deque()
        self._runs: dict[str, QueuedRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0
        self._closed = False

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return sum(1 for run in self._line if run.state is RunState.QUEUED)

    async def depth(self) -> int:
        return self.waiting

    async def start(self) -> None:
        """Nothing to prepare: the backend is started by its owner."""

    async def submit(
        self,
        request: RunRequest,
        *,
        on_chunk: OnChunk | None = None,
        on_state: OnState | None = None,
    ) -> QueuedRun:
        check_request(request)
        if self._closed:
            raise SandboxError("the run queue is closed")
        waiting = self.waiting
        if self._running >= self.concurrency and waiting >= self.max_queued:
            raise queue_full(waiting)
        run = QueuedRun(request, on_chunk=on_chunk, on_state=on_state)
        self._runs[run.id] = run
        self._line.append(run)
        run.announce()
        self._pump()
        return run

    def get(self, run_id: str) -> QueuedRun | None:
        return self._runs.get(run_id)

    async def close(self) -> None:
        self._closed = True
        for run in list(self._runs.values()):
            await run.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _pump(self) -> None:
        while self._running < self.concurrency and self._line:
            run = self._line.popleft()
            if run.state is not RunState.QUEUED:
                self._runs.pop(run.id, None)
                continue
            self._running += 1
            task = asyncio.create_task(self._drive(run), name=f"run-{run.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drive(self, run: QueuedRun) -> None:
        try:
            try:
                execution = await self.backend.run(run.request)
            except SandboxError as exc:
                run.finish(RunResult(RunStatus.INTERNAL_ERROR, message=str(exc)))
                return
            await self._follow(run, execution)
        except Exception as exc:
            log.error("run %s failed in the queue", run.id, exc_info=True)
            if run.state is not RunState.FINISHED:
                run.finish(RunResult(RunStatus.INTERNAL_ERROR, message=f"queue error: {exc}"))
        finally:
            self._running -= 1
            self._runs.pop(run.id, None)
            if not self._closed:
                self._pump()

    async def _follow(self, run: QueuedRun, execution: Execution) -> None:
        if run.state is RunState.FINISHED:  # cancelled while the backend was starting it
            await execution.cancel()
            await execution.wait()
            return
        await run.started(execution)
        async for chunk in execution.chunks():
            run.add_chunk(chunk)
        run.finish(await execution.wait())
