"""What every backend's execution shares: the chunk queue, the result future, the task, cancel.

A backend's execution subclasses :class:`BaseExecution` and writes only its run: ``_drive``
(the task; it ends by calling :meth:`~BaseExecution._finish` once), ``_stop`` (make the run
end now), ``_abandoned``, ``write_stdin`` and ``close_stdin``. The base keeps the
:class:`sandbox.backend.Execution` contract:

* ``chunks`` yields what ``_emit`` queued, in order, and ends when the result is published.
* ``wait`` may be awaited any number of times. A caller that stops waiting (the task awaiting
  ``wait`` or iterating ``chunks`` is cancelled) cancels the run: nobody could see it any more.
* ``cancel`` asks the run to stop once and returns when its task has ended (processes killed,
  containers removed); it is safe to call after the end. A run cancelled before its task ever
  ran still gets a ``cancelled`` result, and ``_abandoned`` cleans up what it was handed.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Self

from sandbox.model import Chunk, RunResult, RunStatus


class BaseExecution(ABC):
    """One started run's plumbing; see the module note."""

    def __init__(self, run_id: str) -> None:
        self.id = run_id
        self._chunks: asyncio.Queue[Chunk | None] = asyncio.Queue()
        self._result: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self._cancel_requested = False
        self._ran = False

    def begin(self, on_done: Callable[[Self], None]) -> None:
        """Start the run's task; ``on_done(self)`` when it has ended."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"run-{self.id}")
        self._task.add_done_callback(lambda _task: on_done(self))

    # -- for subclasses ---------------------------------------------------------------------

    @abstractmethod
    async def _drive(self) -> None:
        """The run. Ends with one :meth:`_finish`, also when it is cancelled."""

    @abstractmethod
    async def _stop(self) -> None:
        """Make the run end now (kill what runs); ``_drive`` then finishes as cancelled."""

    @abstractmethod
    async def _abandoned(self) -> None:
        """Clean up after a run cancelled before ``_drive`` ever started."""

    def _cancelled(self, message: str) -> RunResult:
        """The result of a run stopped before it could say anything."""
        return RunResult(RunStatus.CANCELLED, message=message)

    def _emit(self, chunk: Chunk) -> None:
        self._chunks.put_nowait(chunk)

    def _finish(self, result: RunResult, last: Iterable[Chunk] = ()) -> None:
        """Publish ``result`` after the ``last`` chunks; later calls change nothing."""
        if self._result.done():
            return
        for chunk in last:
            self._chunks.put_nowait(chunk)
        self._chunks.put_nowait(None)
        self._result.set_result(result)

    async def _run(self) -> None:
        self._ran = True
        await self._drive()

    # -- the Execution protocol -------------------------------------------------------------

    async def chunks(self) -> AsyncIterator[Chunk]:
        try:
            while (chunk := await self._chunks.get()) is not None:
                yield chunk
        except asyncio.CancelledError:
            await asyncio.shield(self.cancel())
            raise

    async def cancel(self) -> None:
        """Stop the run now (status ``cancelled``); return once it has ended."""
        assert self._task is not None
        if not self._result.done() and not self._cancel_requested:
            self._cancel_requested = True
            await self._stop()
        await self.finished()
        if not self._ran:
            # Cancelled before its task ever ran: _drive never published or cleaned up.
            self._finish(self._cancelled("cancelled"))
            await asyncio.shield(self._abandoned())

    async def wait(self) -> RunResult:
        """The result; if the task awaiting it is cancelled, the run is cancelled too."""
        try:
            return await asyncio.shield(self._result)
        except asyncio.CancelledError:
            await asyncio.shield(self.cancel())
            raise

    async def finished(self) -> None:
        """Wait until the run's task has ended (and with it every cleanup)."""
        assert self._task is not None
        await asyncio.gather(asyncio.shield(self._task), return_exceptions=True)
