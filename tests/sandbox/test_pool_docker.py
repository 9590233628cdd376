"""The demand-sized warm pool on the real engine: grows to demand, serves hits, never reuses a
container, shrinks, keeps to its budget, exports its figures."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import aiodocker
from prometheus_client import CollectorRegistry, generate_latest

from sandbox.demand import PoolBudget
from sandbox.metrics import PoolCollector
from sandbox.model import Limits, RunRequest, RunStatus
from tests.sandbox.docker_support import collect, containers_of, docker_backend, run

HELLO = RunRequest("python", {"main.py": "print('hi')\n"})


async def test_the_pool_follows_demand_and_never_reuses_a_container() -> None:
    async with docker_backend(pool_size=0, pool_languages=["python"]) as backend:
        assert backend.pool.targets() == {"python": 0}
        backend.pool.set_demand({"python": 3})
        assert backend.pool.targets() == {"python": 3}
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        waiting = set(await containers_of(backend))
        assert len(waiting) == 3

        executions = [await backend.run(HELLO) for _ in range(3)]
        results = [(await collect(e))[1] for e in executions]
        assert all(r.status is RunStatus.OK and r.extra["pooled"] for r in results), results
        assert backend.pool.hits == 3 and backend.pool.misses == 0
        used = {e.container_id for e in executions}
        assert len(used) == 3 and used <= waiting  # three different warm containers
        for execution in executions:
            await execution.finished()  # the container is removed
            assert await containers_of(backend, execution.id) == []
        # the refills are new containers
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        refilled = set(await containers_of(backend))
        assert len(refilled) == 3 and not used & refilled

        # a run whose time limit differs still fits a warm container (same container limits)
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        timed = RunRequest("python", HELLO.files, limits=Limits(time_seconds=3))
        timed_run = await backend.run(timed)
        _, result = await collect(timed_run)
        assert result.extra["pooled"] is True
        # other memory: not the pooled shape, the cold path
        other = RunRequest("python", HELLO.files, limits=Limits(memory_mb=128))
        other_run = await backend.run(other)
        _, result = await collect(other_run)
        assert result.status is RunStatus.OK and result.extra["pooled"] is False
        assert backend.pool.misses == 1
        for execution in (timed_run, other_run):
            await execution.finished()  # removed once the runs have been quiet a while

        backend.pool.set_demand({})  # the lesson ended: idle containers go
        assert backend.pool.targets() == {"python": 0}
        assert backend.pool.size() == 0
        await backend.pool.removed()
        assert await containers_of(backend) == []


async def test_the_budget_bounds_the_pool() -> None:
    budget = PoolBudget(base=0, max_containers=10, memory_mb=512)  # two python containers
    async with docker_backend(
        pool_size=0, pool_languages=["python"], pool_budget=budget
    ) as backend:
        backend.pool.set_demand({"python": 30})
        assert backend.pool.targets() == {"python": 2}
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        assert len(await containers_of(backend)) == 2

        registry = CollectorRegistry()
        registry.register(PoolCollector(backend.pool))
        text = generate_latest(registry).decode()
        assert 'classroom_sandbox_pool_target{language="python"} 2.0' in text
        assert 'classroom_sandbox_pool_demand{language="python"} 30.0' in text
        assert 'classroom_sandbox_pool_language_ready{language="python"} 2.0' in text
        assert "classroom_sandbox_pool_hits_total 0.0" in text
    assert await containers_of(backend) == []  # close() removes the pool


def _created(show: dict[str, object]) -> float:
    """The engine's creation time of a container, in seconds since the epoch."""
    stamp = str(show["Created"]).rstrip("Z")
    whole, _, fraction = stamp.partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction[:6] or 0}+00:00").timestamp()


HELD = RunRequest(
    "python", {"main.py": "print(input())\n"}, interactive=True, limits=Limits(time_seconds=60)
)


async def test_a_refill_waits_for_the_runs_in_flight_until_a_run_misses() -> None:
    async with docker_backend(
        pool_size=2, pool_languages=["python"], pool_defer_seconds=120
    ) as backend:
        pool = backend.pool
        async with asyncio.timeout(60):
            await pool.wait_full()
        held = await backend.run(HELD)  # in flight until its stdin closes
        async with asyncio.timeout(30):
            await pool.until(lambda: pool.deferred == 1)
        _, result = await run(backend, HELLO)  # takes the last waiting container
        assert result.status is RunStatus.OK and result.extra["pooled"]
        assert pool.size() == 0
        # A run that finds nothing waiting starts cold, and the pool fills at once, with the
        # held run still in flight.
        _, result = await run(backend, HELLO)
        assert result.status is RunStatus.OK and not result.extra["pooled"]
        async with asyncio.timeout(60):
            await pool.wait_full()
        assert (pool.hits, pool.misses) == (2, 1)
        assert held in backend._executions  # still in flight
        # One more run: its refill waits for the held run to end.
        deferred = pool.deferred
        _, result = await run(backend, HELLO)
        assert result.status is RunStatus.OK and result.extra["pooled"]
        async with asyncio.timeout(30):
            await pool.until(lambda: pool.deferred > deferred)
        before = set(await containers_of(backend))
        await held.write_stdin("bye\n")
        await held.close_stdin()
        _, result = await collect(held)
        assert result.status is RunStatus.OK and "bye" in result.stdout
        ended = time.time()
        async with asyncio.timeout(60):
            await pool.wait_full()
        new = set(await containers_of(backend)) - before
        assert len(new) == 1
        async with aiodocker.Docker() as docker:
            show = await docker.containers.container(new.pop()).show()
        # made after the held run ended and the runs were quiet for a while, not before
        assert _created(show) >= ended + pool.quiet_seconds - 0.05


async def test_a_deferred_refill_goes_ahead_after_its_time() -> None:
    async with docker_backend(
        pool_size=2, pool_languages=["python"], pool_defer_seconds=0.5
    ) as backend:
        pool = backend.pool
        async with asyncio.timeout(60):
            await pool.wait_full()
        held = await backend.run(HELD)
        async with asyncio.timeout(60):
            await pool.until(lambda: pool.deferred == 1)
            await pool.wait_full()  # within the timeout, with the run still in flight
        assert held in backend._executions and pool.size() == 2
        await held.cancel()
