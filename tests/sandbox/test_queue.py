"""The in-process run queue in front of a real local backend."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.exceptions import InvalidRequest, QueueFull, StateError, UnknownLanguage
from sandbox.local import LocalBackend
from sandbox.model import Chunk, RunRequest, RunResult, RunState, RunStatus
from sandbox.queue import QueuedRun, RunQueue

# Prints a line, then blocks until its stdin is closed: a run we hold open as long as we like.
HOLD = "import sys\nprint('up', flush=True)\nsys.stdin.read()\nprint('down')\n"


def held() -> RunRequest:
    return RunRequest(language="python", files={"main.py": HOLD}, interactive=True)


@pytest.fixture
async def backend() -> AsyncIterator[LocalBackend]:
    root = Path(tempfile.gettempdir()) / f"classroom-test-{uuid.uuid4().hex[:12]}"
    b = LocalBackend(work_root=root)
    await b.start()
    yield b
    await b.close()
    shutil.rmtree(root, ignore_errors=True)


async def first_chunk(run: QueuedRun) -> Chunk:
    async with asyncio.timeout(20):
        return await anext(run.chunks())


async def finished(run: QueuedRun) -> RunResult:
    async with asyncio.timeout(30):
        return await run.wait()


@pytest.mark.bwrap
async def test_run_goes_queued_running_finished(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=2, max_queued=4)
    states: list[RunState] = []
    chunks: list[Chunk] = []
    request = RunRequest(language="python", files={"main.py": "print('hi')\n"})
    run = await queue.submit(
        request,
        on_chunk=lambda r, c: chunks.append(c),
        on_state=lambda r: states.append(r.state),
    )
    result = await finished(run)
    assert result.status is RunStatus.OK
    assert states == [RunState.QUEUED, RunState.RUNNING, RunState.FINISHED]
    assert "".join(c.data for c in chunks) == "hi\n"
    assert run.result == result
    assert queue.get(run.id) is None  # finished runs leave the queue
    await queue.close()


@pytest.mark.bwrap
async def test_concurrency_bound_and_fifo(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=5)
    first = await queue.submit(held())
    second = await queue.submit(held())
    await first_chunk(first)
    assert (first.state, second.state) == (RunState.RUNNING, RunState.QUEUED)
    assert queue.running == 1
    assert await queue.depth() == 1
    await first.close_stdin()
    await finished(first)
    await first_chunk(second)
    assert second.state is RunState.RUNNING
    assert await queue.depth() == 0
    await second.close_stdin()
    assert (await finished(second)).stdout == "up\ndown\n"
    await queue.close()


async def test_full_queue_refuses(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=1)
    running = await queue.submit(held())
    waiting = await queue.submit(held())
    with pytest.raises(QueueFull, match=r"^run queue is full \(1 waiting\); try again shortly$"):
        await queue.submit(held())
    await running.cancel()
    await waiting.cancel()
    await queue.close()


async def test_cancel_while_queued_never_starts(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=5)
    blocker = await queue.submit(held())
    states: list[RunState] = []
    waiting = await queue.submit(held(), on_state=lambda r: states.append(r.state))
    await waiting.cancel()
    result = await finished(waiting)
    assert result.status is RunStatus.CANCELLED
    assert states == [RunState.QUEUED, RunState.FINISHED]
    assert await queue.depth() == 0
    await blocker.close_stdin()
    await finished(blocker)
    assert [c async for c in waiting.chunks()] == []
    await queue.close()


@pytest.mark.bwrap
async def test_cancel_while_running(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=5)
    run = await queue.submit(held())
    await first_chunk(run)
    await run.cancel()
    assert (await finished(run)).status is RunStatus.CANCELLED
    await queue.close()


@pytest.mark.bwrap
async def test_stdin_written_while_queued_reaches_the_run(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=5)
    blocker = await queue.submit(held())
    echo = RunRequest(
        language="python",
        files={"main.py": "import sys\nprint(sys.stdin.read().upper())\n"},
        interactive=True,
    )
    run = await queue.submit(echo)
    await run.write_stdin("early ")
    await run.write_stdin("bird")
    await run.close_stdin()
    assert run.state is RunState.QUEUED
    await blocker.close_stdin()
    assert (await finished(run)).stdout == "EARLY BIRD\n"
    await queue.close()


@pytest.mark.bwrap
async def test_chunks_replay_and_resume_after_seq(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=1)
    code = "for i in range(5):\n    print(i, flush=True)\n"
    run = await queue.submit(RunRequest(language="python", files={"main.py": code}))
    await finished(run)
    everything = [c async for c in run.chunks()]
    assert "".join(c.data for c in everything) == "0\n1\n2\n3\n4\n"
    later = [c async for c in run.chunks(after=everything[0].seq)]
    assert later == everything[1:]
    await queue.close()


async def test_bad_requests_refused_before_queueing(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=1)
    with pytest.raises(UnknownLanguage):
        await queue.submit(RunRequest(language="brainfuck", files={"a.bf": "+"}))
    with pytest.raises(InvalidRequest):
        await queue.submit(RunRequest(language="python", files={"../evil.py": ""}))
    assert await queue.depth() == 0
    await queue.close()


@pytest.mark.bwrap
async def test_a_failing_listener_does_not_break_the_run(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=1)

    def broken(run: QueuedRun, chunk: Chunk) -> None:
        raise RuntimeError("listener bug")

    request = RunRequest(language="python", files={"main.py": "print('fine')\n"})
    run = await queue.submit(request, on_chunk=broken)
    assert (await finished(run)).stdout == "fine\n"
    await queue.close()


@pytest.mark.bwrap
async def test_close_cancels_queued_and_running(backend: LocalBackend) -> None:
    queue = RunQueue(backend, concurrency=1, max_queued=5)
    running = await queue.submit(held())
    waiting = await queue.submit(held())
    await first_chunk(running)
    await queue.close()
    assert (await finished(running)).status is RunStatus.CANCELLED
    assert (await finished(waiting)).status is RunStatus.CANCELLED


async def test_illegal_transitions_raise() -> None:
    run = QueuedRun(RunRequest(language="python", files={"main.py": ""}))
    run.finish(RunResult(RunStatus.CANCELLED))
    with pytest.raises(StateError, match="finished -> finished"):
        run.finish(RunResult(RunStatus.OK))

    class Inert:
        async def write_stdin(self, data: str) -> None: ...

        async def close_stdin(self) -> None: ...

        async def cancel(self) -> None: ...

    with pytest.raises(StateError, match="finished -> running"):
        await run.started(Inert())
    other = QueuedRun(RunRequest(language="python", files={"main.py": ""}))
    await other.started(Inert())
    with pytest.raises(StateError, match="running -> running"):
        await other.started(Inert())
