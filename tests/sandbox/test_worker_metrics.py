# ruff: noqa: F811  (the fixtures of test_redis_queue are imported by name)
"""A worker's /metrics and its drain on SIGTERM, with real worker processes and a real Redis."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
import redis.asyncio as redis
from prometheus_client.parser import text_string_to_metric_families

from sandbox.demand import encode_demand
from sandbox.model import RunRequest, RunStatus
from sandbox.redis_queue import Keys, RedisRunQueue, ensure_group, queue_figures
from sandbox.worker import STOPPED
from tests.conftest import free_port
from tests.sandbox.test_redis_queue import (  # noqa: F401  (fixtures)
    StartWorker,
    client,
    finished,
    prefix,
    queue,
    start_worker,
)
from tests.services import require

pytestmark = pytest.mark.redis


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    return samples(response.text)


@pytest.mark.bwrap
async def test_metrics_of_runs_and_queue(queue: RedisRunQueue, start_worker: StartWorker) -> None:
    port = free_port()
    await start_worker("--metrics-port", str(port))
    code = "x = bytearray(20 << 20)\nprint(sum(range(10**6)))\n"
    run = await queue.submit(RunRequest(language="python", files={"main.py": code}))
    result = await finished(run)
    assert result.status is RunStatus.OK, result
    bad = await queue.submit(
        RunRequest(language="python", files={"main.py": "raise SystemExit(3)"})
    )
    assert (await finished(bad)).status is RunStatus.RUNTIME_ERROR
    got = await scrape(port)
    py = (("language", "python"),)
    assert got[("classroom_worker_runs_total", (*py, ("status", "ok")))] == 1
    assert got[("classroom_worker_runs_total", (*py, ("status", "runtime_error")))] == 1
    assert got[("classroom_worker_run_seconds_count", py)] == 2
    assert got[("classroom_worker_run_seconds_sum", py)] > 0
    assert got[("classroom_worker_run_cpu_seconds_count", py)] == 2
    # The 20 MiB bytearray shows in the peak memory of the first run.
    assert got[("classroom_worker_run_memory_bytes_count", py)] == 2
    assert got[("classroom_worker_run_memory_bytes_sum", py)] >= 20 << 20
    assert got[("classroom_worker_concurrency", ())] == 2
    # Sampled every 2 s (tested through queue_figures below): present, not yet exact here.
    assert ("classroom_worker_queue_depth", ()) in got
    assert ("classroom_worker_queue_oldest_seconds", ()) in got
    assert got[("classroom_worker_redis_up", ())] == 1


async def test_queue_figures_count_waiting_runs_and_their_age(
    prefix: str, client: redis.Redis
) -> None:
    keys = Keys(prefix)
    assert await queue_figures(client, keys) == (0, 0.0)  # no stream yet
    await ensure_group(client, keys)
    now_s, now_us = await client.time()
    now_ms = int(now_s) * 1000 + int(now_us) // 1000
    await client.xadd(keys.stream, {"id": "old"}, id=f"{now_ms - 7000}-0")
    await client.xadd(keys.stream, {"id": "new"}, id=f"{now_ms - 1000}-0")
    depth, age = await queue_figures(client, keys)
    assert depth == 2 and 7.0 <= age < 9.0
    # A worker takes the oldest: it no longer waits, the next one is the oldest.
    await client.xreadgroup("workers", "w", {keys.stream: ">"}, count=1)
    depth, age = await queue_figures(client, keys)
    assert depth == 1 and 1.0 <= age < 3.0


@pytest.mark.bwrap
async def test_sigterm_lets_short_runs_finish_and_cancels_long_ones_at_the_deadline(
    queue: RedisRunQueue, start_worker: StartWorker
) -> None:
    worker = await start_worker("--drain-seconds", "3")
    quick = "import time\nprint('a', flush=True)\ntime.sleep(1.5)\nprint('b')\n"
    slow = "import time\nprint('a', flush=True)\ntime.sleep(60)\n"
    short = await queue.submit(RunRequest(language="python", files={"main.py": quick}))
    long = await queue.submit(RunRequest(language="python", files={"main.py": slow}))
    for run in (short, long):
        async with asyncio.timeout(20):
            async for _chunk in run.chunks():
                break  # running: its first output came back
    began = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    first = await finished(short)
    assert first.status is RunStatus.OK and first.stdout == "a\nb\n"
    second = await finished(long)
    assert second.status is RunStatus.CANCELLED and second.message == STOPPED
    async with asyncio.timeout(15):
        assert await worker.proc.wait() == 0
    assert 3.0 <= time.monotonic() - began < 12.0
    # A worker that stopped takes nothing more: a new run waits in the queue.
    waiting = await queue.submit(RunRequest(language="python", files={"main.py": "print(1)"}))
    assert await queue.depth() == 1
    await waiting.cancel()


async def test_docker_backend_figures(queue: RedisRunQueue, start_worker: StartWorker) -> None:
    require("docker")
    port = free_port()
    await start_worker("--sandbox", "docker", "--metrics-port", str(port))
    for _ in range(2):
        run = await queue.submit(RunRequest(language="python", files={"main.py": "print(1)"}))
        assert (await finished(run, 60)).status is RunStatus.OK
    got = await scrape(port)
    assert (
        got[("classroom_sandbox_pool_hits_total", ())]
        + got[("classroom_sandbox_pool_misses_total", ())]
        == 2
    )
    assert got[("classroom_sandbox_container_start_seconds_count", ())] >= 1
    present = {
        dict(labels)["language"]: value
        for (name, labels), value in got.items()
        if name == "classroom_sandbox_image_present"
    }
    assert present["python"] == 1 and len(present) == 7


async def test_a_worker_sizes_its_pool_to_the_demand_in_redis(
    prefix: str, client: redis.Redis, start_worker: StartWorker
) -> None:
    require("docker")
    port = free_port()
    worker = await start_worker(
        "--sandbox", "docker", "--metrics-port", str(port), "--name", "pool-worker"
    )
    # what a server writes (server/runs/demand.py): its process's entry in the demand hash
    await client.hset(f"{prefix}pool:demand", "server-1", encode_demand({"python": 3}, time.time()))
    await worker.expect("warm-pool share {'python': 3}")
    got = await scrape(port)
    assert got[("classroom_sandbox_pool_target", (("language", "python"),))] == 3
    assert got[("classroom_sandbox_pool_demand", (("language", "python"),))] == 3
    assert await client.hexists(f"{prefix}pool:workers", "pool-worker")
    await client.hdel(f"{prefix}pool:demand", "server-1")  # the class went home
    await worker.expect("warm-pool share {}")
    got = await scrape(port)
    assert got[("classroom_sandbox_pool_target", (("language", "python"),))] == 1  # the base
