"""A thread of its own with a synchronous engine used only there.

Work of many statements runs start to end on such a thread, one hop from the event loop
(server/thread_sessions.py: the store's sessions; server/documents/compaction.py:
PostgreSQL's folds). The engine is made on first use, on the thread, and disposed of there
by :meth:`EngineThread.close`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine

_T = TypeVar("_T")


class EngineThread:
    """``connect`` makes the engine; ``name`` names the thread."""

    def __init__(self, connect: Callable[[], Engine], name: str) -> None:
        self._connect = connect
        self._name = name
        self._engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None

    def submit(self, work: Callable[[Engine], _T]) -> Future[_T]:
        """``work(engine)`` on the thread (a new one after :meth:`close`)."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        return self._thread.submit(self._with_engine, work)

    async def run(self, work: Callable[[Engine], _T]) -> _T:
        """``work(engine)`` on the thread, awaited."""
        return await asyncio.wrap_future(self.submit(work))

    async def close(self) -> None:
        """Dispose of the engine on its thread once the work submitted before is done."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.get_running_loop().run_in_executor(thread, engine.dispose)
        thread.shutdown()  # idle by now: the dispose above was its last work

    def _with_engine(self, work: Callable[[Engine], _T]) -> _T:
        if self._engine is None:
            self._engine = self._connect()
        return work(self._engine)
