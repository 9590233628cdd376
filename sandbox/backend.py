"""The seam between the queue and what runs code: a :class:`Backend` starts an :class:`Execution`.

Two files per implementation, the backend and its execution: ``docker.py`` / ``docker_run.py``
(aiodocker) and ``local.py`` / ``local_run.py`` (a child process). What every execution shares
(its chunk queue, result future and cancel) is :class:`sandbox.execution.BaseExecution`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from sandbox.model import Chunk, RunRequest, RunResult


class Execution(Protocol):
    """A run that has been started. Read :meth:`chunks` to the end, then :meth:`wait`.

    ``chunks`` yields output as it is produced and ends when the program has ended (or was
    killed); ``wait`` returns the result and may be awaited any number of times. ``cancel``
    stops the run at once (status ``cancelled``); it is safe to call after the end.
    """

    id: str

    def chunks(self) -> AsyncIterator[Chunk]: ...

    async def write_stdin(self, data: str) -> None: ...

    async def close_stdin(self) -> None: ...

    async def cancel(self) -> None: ...

    async def wait(self) -> RunResult: ...


class Backend(Protocol):
    name: str

    async def start(self) -> None:
        """Prepare: sweep leftovers of a crash, fill warm pools. Called once."""

    async def run(self, request: RunRequest) -> Execution:
        """Start one run. Raises ``UnknownLanguage``, ``InvalidRequest``, ``BackendUnavailable``."""

    async def close(self) -> None:
        """Stop everything this backend started; remove every container it owns."""
