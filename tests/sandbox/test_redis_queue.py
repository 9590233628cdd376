"""Runs through a real Redis stream to real worker processes (`python -m sandbox.worker`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as redis

from sandbox.exceptions import QueueFull
from sandbox.model import RunRequest, RunResult, RunState, RunStatus
from sandbox.queue import QueuedRun
from sandbox.redis_queue import GROUP, Keys, RedisRunQueue
from tests.services import REDIS_URL, ROOT, require

pytestmark = pytest.mark.redis

HOLD = "import sys\nprint('up', flush=True)\nsys.stdin.read()\nprint('down')\n"


def held() -> RunRequest:
    return RunRequest(language="python", files={"main.py": HOLD}, interactive=True)


class WorkerProcess:
    """`python -m sandbox.worker` as a child of the test, its log lines readable as events."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def expect(self, text: str, seconds: float = 20) -> str:
        """Wait for a log line containing ``text`` (every line read is kept in ``lines``)."""
        for line in self.lines:
            if text in line:
                return line
        assert self.proc.stderr is not None
        async with asyncio.timeout(seconds):
            while raw := await self.proc.stderr.readline():
                line = raw.decode()
                self.lines.append(line)
                if text in line:
                    return line
        raise AssertionError(f"worker ended without logging {text!r}: {self.lines}")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


StartWorker = Callable[..., Awaitable[WorkerProcess]]


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def client(prefix: str) -> AsyncIterator[redis.Redis]:
    require("redis")
    c: redis.Redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield c
    keys = [k async for k in c.scan_iter(match=f"{prefix}*")]
    if keys:
        await c.delete(*keys)
    await c.aclose()


@pytest.fixture
async def start_worker(
    prefix: str, tmp_path: Path, client: redis.Redis
) -> AsyncIterator[StartWorker]:
    started: list[WorkerProcess] = []

    async def start(*extra: str) -> WorkerProcess:
        env = {**os.environ, "CLASSROOM_DATA_DIR": str(tmp_path), "CLASSROOM_LOG_LEVEL": "info"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sandbox.worker",
            "--redis-url", REDIS_URL, "--prefix", prefix, "--sandbox", "local",
            "--concurrency", "2", *extra,
            cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        worker = WorkerProcess(proc)
        started.append(worker)
        await worker.expect("serving")
        return worker

    yield start
    for worker in started:
        await worker.stop()


@pytest.fixture
async def queue(prefix: str, client: redis.Redis) -> AsyncIterator[RedisRunQueue]:
    q = RedisRunQueue(REDIS_URL, max_queued=2, prefix=prefix)
    await q.start()
    yield q
    await q.close()


async def finished(run: QueuedRun, seconds: float = 30) -> RunResult:
    async with asyncio.timeout(seconds):
        return await run.wait()


@pytest.mark.bwrap
async def test_run_on_a_worker(
    queue: RedisRunQueue, start_worker: StartWorker, client: redis.Redis
) -> None:
    await start_worker()
    states: list[RunState] = []
    code = "import sys\nprint('hello', sys.argv[1])\nprint('warn', file=sys.stderr)\n"
    request = RunRequest(language="python", files={"main.py": code}, args=("redis",))
    run = await queue.submit(request, on_state=lambda r: states.append(r.state))
    result = await finished(run)
    assert result.status is RunStatus.OK, result
    assert result.stdout == "hello redis\n"
    text = {"stdout": "", "stderr": ""}
    async for chunk in run.chunks():
        text[chunk.stream] += chunk.data
    assert text == {"stdout": "hello redis\n", "stderr": "warn\n"}
    assert states == [RunState.QUEUED, RunState.RUNNING, RunState.FINISHED]
    stored = json.loads(await client.get(queue.keys.result(run.id)))
    assert stored["status"] == "ok"
    assert 0 < await client.ttl(queue.keys.result(run.id)) <= 3600
    assert await client.xlen(queue.keys.stream) == 0  # acked and deleted
    assert await client.exists(queue.keys.alive(run.id)) == 0


@pytest.mark.bwrap
async def test_stdin_and_cancel_reach_the_worker(
    queue: RedisRunQueue, start_worker: StartWorker
) -> None:
    await start_worker()
    echo = RunRequest(
        language="python",
        files={
            "main.py": (
                "import sys\nfor line in sys.stdin:\n    print(line.upper(), end='', flush=True)\n"
            )
        },
        interactive=True,
    )
    run = await queue.submit(echo)
    await run.write_stdin("written while queued\n")
    stream = run.chunks()
    async with asyncio.timeout(20):
        first = await anext(stream)
    assert first.data == "WRITTEN WHILE QUEUED\n"
    await run.write_stdin("and later\n")
    async with asyncio.timeout(20):
        assert (await anext(stream)).data == "AND LATER\n"
    await run.cancel()
    assert (await finished(run)).status is RunStatus.CANCELLED


async def test_queue_bound_counts_unstarted_runs(queue: RedisRunQueue, client: redis.Redis) -> None:
    # No worker: every run stays in the stream.
    first = await queue.submit(held())
    second = await queue.submit(held())
    assert await queue.depth() == 2
    with pytest.raises(QueueFull, match=r"run queue is full \(2 waiting\)"):
        await queue.submit(held())
    await second.cancel()
    assert (await finished(second)).status is RunStatus.CANCELLED
    assert await queue.depth() == 1
    assert await client.exists(queue.keys.cancelled(second.id)) == 1
    third = await queue.submit(held())
    assert third.state is RunState.QUEUED
    await first.cancel()
    await third.cancel()
    assert await queue.depth() == 0


@pytest.mark.bwrap
async def test_run_cancelled_while_queued_is_never_started(
    queue: RedisRunQueue, start_worker: StartWorker
) -> None:
    doomed = await queue.submit(held())
    await doomed.cancel()
    worker = await start_worker()
    request = RunRequest(language="python", files={"main.py": "print('after')\n"})
    later = await queue.submit(request)
    assert (await finished(later)).stdout == "after\n"
    assert (await finished(doomed)).status is RunStatus.CANCELLED
    assert not [line for line in worker.lines if doomed.id in line and "failed" in line]


@pytest.mark.bwrap
async def test_killed_worker_leaves_internal_error_and_is_not_rerun(
    queue: RedisRunQueue, start_worker: StartWorker, client: redis.Redis
) -> None:
    doomed_worker = await start_worker("--name", "doomed")
    run = await queue.submit(held())
    async with asyncio.timeout(20):
        assert (await anext(run.chunks())).data.startswith("up")
    assert run.state is RunState.RUNNING
    doomed_worker.proc.kill()  # SIGKILL: no cleanup of any kind
    await doomed_worker.proc.wait()

    result = await finished(run, seconds=15)
    assert result.status is RunStatus.INTERNAL_ERROR
    assert result.message.startswith("worker lost")
    pending = await client.xpending(queue.keys.stream, GROUP)
    assert pending["pending"] == 1  # the dead worker's entry, not yet claimed

    # A live worker claims the dead one's entry, settles it as lost, and never runs it again.
    rescuer = await start_worker("--name", "rescuer", "--claim-idle-ms", "1500")
    line = await rescuer.expect(f"run {run.id}: its worker died")
    assert "marked lost" in line
    assert (await client.xpending(queue.keys.stream, GROUP))["pending"] == 0
    assert await client.xlen(queue.keys.stream) == 0
    stored = RunResult.from_dict(json.loads(await client.get(queue.keys.result(run.id))))
    assert stored == result
    assert not [
        ln for ln in rescuer.lines if "serving" not in ln and run.id in ln and "claimed" not in ln
    ]


def test_keys_are_prefixed() -> None:
    keys = Keys("p:")
    assert keys.stream == "p:runs"
    assert keys.events("r1") == "p:run:r1"
    assert keys.control("r1") == "p:run:r1:control"
    assert keys.run_id(keys.events("r1")) == "r1"


@pytest.mark.bwrap
async def test_closing_the_queue_cancels_its_runs_on_the_worker(
    prefix: str, start_worker: StartWorker, client: redis.Redis
) -> None:
    await start_worker()
    queue = RedisRunQueue(REDIS_URL, max_queued=2, prefix=prefix)
    await queue.start()
    run = await queue.submit(held())
    async with asyncio.timeout(20):
        await anext(run.chunks())
    watcher = client.pubsub()
    await watcher.subscribe(queue.keys.events(run.id))
    await queue.close()
    assert (await finished(run)).status is RunStatus.CANCELLED
    # The worker got the cancel too: its own result for the run says so.
    async with asyncio.timeout(20):
        async for message in watcher.listen():
            if message["type"] == "message" and json.loads(message["data"])["t"] == "result":
                assert json.loads(message["data"])["result"]["status"] == "cancelled"
                break
    await watcher.aclose()
