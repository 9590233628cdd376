"""The plumbing every execution shares (sandbox/execution.py), on the real local backend.

The Docker backend's execution has the same base; tests/sandbox/test_docker.py checks its
container side (removal on cancel, cancel before the run's task began)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.local import LocalBackend
from sandbox.local_run import LocalExecution
from sandbox.model import RunRequest, RunStatus

FOREVER = "import itertools, time\nfor i in itertools.count():\n    print(i, flush=True)\n"
FOREVER += "    time.sleep(0.05)\n"
HELLO = {"main.py": "print('hello')\n"}


@pytest.fixture
async def backend() -> AsyncIterator[LocalBackend]:
    root = Path(tempfile.gettempdir()) / f"classroom-test-{uuid.uuid4().hex[:12]}"
    b = LocalBackend(confinement="none", work_root=root)
    await b.start()
    yield b
    await b.close()
    shutil.rmtree(root, ignore_errors=True)


async def started(backend: LocalBackend) -> LocalExecution:
    """A run that prints forever, once its first line has arrived."""
    execution = await backend.run(RunRequest("python", {"main.py": FOREVER}))
    async with asyncio.timeout(20):
        await anext(execution.chunks())
    return execution


def run_dirs(backend: LocalBackend) -> list[Path]:
    return list(backend.work_root.glob("run-*"))


async def test_cancel_returns_once_the_run_has_ended_and_is_cleaned_up(
    backend: LocalBackend,
) -> None:
    execution = await started(backend)
    assert run_dirs(backend)
    async with asyncio.timeout(20):
        await execution.cancel()
    assert run_dirs(backend) == []
    assert execution not in backend._executions  # on_done ran
    result = await asyncio.wait_for(execution.wait(), 1)
    assert result.status is RunStatus.CANCELLED and result.message == "cancelled"


async def test_chunks_end_after_a_cancel_in_order(backend: LocalBackend) -> None:
    execution = await backend.run(RunRequest("python", {"main.py": FOREVER}))
    stream = execution.chunks()
    async with asyncio.timeout(20):
        first = await anext(stream)
        await execution.cancel()
        rest = [chunk async for chunk in stream]  # ends: the result is published
    seqs = [chunk.seq for chunk in [first, *rest]]
    assert seqs == list(range(len(seqs)))


async def test_a_cancelled_waiter_cancels_the_run(backend: LocalBackend) -> None:
    execution = await started(backend)
    waiter = asyncio.create_task(execution.wait())
    await asyncio.sleep(0)  # the waiter is now awaiting the result
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(20):
            await waiter
    result = await asyncio.wait_for(execution.wait(), 1)
    assert result.status is RunStatus.CANCELLED
    assert run_dirs(backend) == []


async def test_a_reader_that_goes_away_cancels_the_run(backend: LocalBackend) -> None:
    execution = await backend.run(RunRequest("python", {"main.py": FOREVER}))
    first = asyncio.Event()

    async def read() -> None:
        async for _chunk in execution.chunks():
            first.set()

    reader = asyncio.create_task(read())
    async with asyncio.timeout(20):
        await first.wait()
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(20):
            await reader
    result = await asyncio.wait_for(execution.wait(), 1)
    assert result.status is RunStatus.CANCELLED


async def test_concurrent_cancels_both_return_and_agree(backend: LocalBackend) -> None:
    execution = await started(backend)
    async with asyncio.timeout(20):
        await asyncio.gather(execution.cancel(), execution.cancel())
    assert (await execution.wait()).status is RunStatus.CANCELLED


async def test_cancel_after_the_end_changes_nothing(backend: LocalBackend) -> None:
    execution = await backend.run(RunRequest("python", HELLO))
    async with asyncio.timeout(20):
        chunks = [chunk async for chunk in execution.chunks()]
        result = await execution.wait()
        await execution.cancel()
    assert "".join(chunk.data for chunk in chunks) == "hello\n"  # chunking varies with load
    assert result.status is RunStatus.OK
    assert await execution.wait() is result
