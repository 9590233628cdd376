"""The demand-sized warm pool on the real engine: grows to demand, serves hits, never reuses a
container, shrinks, keeps to its budget, exports its figures."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, generate_latest

from sandbox.demand import PoolBudget
from sandbox.metrics import PoolCollector
from sandbox.model import Limits, RunRequest, RunStatus
from tests.sandbox.docker_support import collect, containers_of, docker_backend

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
        _, result = await collect(await backend.run(timed))
        assert result.extra["pooled"] is True
        # other memory: not the pooled shape, the cold path
        other = RunRequest("python", HELLO.files, limits=Limits(memory_mb=128))
        _, result = await collect(await backend.run(other))
        assert result.status is RunStatus.OK and result.extra["pooled"] is False
        assert backend.pool.misses == 1

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
