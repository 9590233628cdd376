"""The demand-sized warm pool on the real engine: grows to demand, serves hits, never reuses a
container, shrinks, keeps to its budget, exports its figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import aiodocker
from prometheus_client import CollectorRegistry, generate_latest

from sandbox.backend import Execution
from sandbox.demand import PoolBudget
from sandbox.docker import DockerBackend
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


async def _destroyed_at(container_id: str, since: float) -> float:
    """When the engine removed the container (its ``destroy`` event), from the event log."""
    events = await asyncio.create_subprocess_exec(
        "docker", "events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}",
        "--filter", f"container={container_id}", "--filter", "event=destroy",
        "--format", "{{.TimeNano}}", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await events.communicate()
    assert out.split(), f"no destroy event for {container_id[:12]}"
    return int(out.split()[0]) / 1e9


HELD = RunRequest(
    "python", {"main.py": "print(input())\n"}, interactive=True, limits=Limits(time_seconds=60)
)


@asynccontextmanager
async def _held_run(
    defer_seconds: float, budget: PoolBudget | None = None
) -> AsyncIterator[tuple[DockerBackend, Execution]]:
    """A full pool of two Python containers and a run that stays in flight until its stdin
    closes; yields once the pool's refill for that run waits (rule 4)."""
    async with docker_backend(
        pool_size=2, pool_languages=["python"], pool_defer_seconds=defer_seconds,
        pool_budget=budget,
    ) as backend:  # fmt: skip
        pool = backend.pool
        async with asyncio.timeout(60):
            await pool.wait_full()
        held = await backend.run(HELD)
        async with asyncio.timeout(30):
            await pool.until(lambda: pool.deferred == 1)
        yield backend, held


async def _end(held: Execution) -> float:
    """End the held run; the time it ended."""
    await held.write_stdin("bye\n")
    await held.close_stdin()
    _, result = await collect(held)
    assert result.status is RunStatus.OK and "bye" in result.stdout
    return time.time()


async def test_a_refill_waits_for_the_runs_in_flight_until_a_run_misses() -> None:
    async with _held_run(defer_seconds=120) as (backend, held):
        pool = backend.pool
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
        ended = await _end(held)
        async with asyncio.timeout(60):
            await pool.wait_full()
        new = set(await containers_of(backend)) - before
        assert len(new) == 1
        async with aiodocker.Docker() as docker:
            show = await docker.containers.container(new.pop()).show()
        # made after the held run ended and the runs were quiet for a while, not before
        assert _created(show) >= ended + pool.quiet_seconds - 0.05


async def test_a_deferred_refill_goes_ahead_after_its_time() -> None:
    async with _held_run(defer_seconds=0.5) as (backend, held):
        async with asyncio.timeout(60):
            await backend.pool.wait_full()  # within the timeout, with the run still in flight
        assert held in backend._executions and backend.pool.size() == 2
        await held.cancel()


async def test_a_used_container_is_removed_once_the_runs_in_flight_have_ended() -> None:
    began = time.time()
    async with _held_run(defer_seconds=120) as (backend, held):
        short = await backend.run(HELLO)
        _, result = await collect(short)
        assert result.status is RunStatus.OK and short.container_id is not None
        async with aiodocker.Docker() as docker:
            show = await docker.containers.container(short.container_id).show()
        assert show["State"]["Running"]  # the wrapper idles; nothing of the run is left in it
        ended = await _end(held)
        async with asyncio.timeout(60):
            await short.finished()
        assert await containers_of(backend, short.id) == []
        destroyed = await _destroyed_at(short.container_id, began)
        assert destroyed >= ended + backend.pool.quiet_seconds - 0.05


async def test_used_containers_wait_for_removal_only_up_to_the_pool_budget() -> None:
    budget = PoolBudget(base=2, max_containers=2, memory_mb=0)
    async with _held_run(defer_seconds=120, budget=budget) as (backend, held):
        shorts = [await backend.run(HELLO) for _ in range(3)]
        for short in shorts:
            _, result = await collect(short)
            assert result.status is RunStatus.OK
        # Two wait for the held run; the third is over the budget and goes at once.
        async with asyncio.timeout(60):
            done, _ = await asyncio.wait(
                [asyncio.ensure_future(s.finished()) for s in shorts],
                return_when=asyncio.FIRST_COMPLETED,
            )
        assert len(done) == 1 and held in backend._executions
        assert len([s for s in shorts if not await containers_of(backend, s.id)]) == 1
        await _end(held)
        async with asyncio.timeout(60):
            await asyncio.gather(*(s.finished() for s in shorts))


async def test_a_pooled_run_asks_the_engine_nothing_when_the_main_process_answers() -> None:
    """The main process's *begun* trailer says the warm container is alive: no inspect per run."""
    async with docker_backend(
        pool_size=1, pool_languages=["python"], alive_check_seconds=5
    ) as backend:
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        chunks, result = await run(backend, HELLO)
        assert result.status is RunStatus.OK and result.extra["pooled"] is True, result
        assert "".join(c.data for c in chunks) == "hi\n"  # the trailer is not output
        assert backend.alive_checks == 0


async def test_a_pooled_container_that_died_while_waiting_is_not_used() -> None:
    """A warm container killed from outside (an operator, the engine) says nothing when the
    run goes in; the engine, asked then, says it is not running: the run takes a fresh
    container, with the stdin sent to the dead one, and the dead one goes."""
    async with docker_backend(pool_size=1, pool_languages=["python"]) as backend:
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        (waiting,) = await containers_of(backend)
        dead = backend.docker.containers.container(waiting)
        await dead.kill()
        await dead.wait()

        request = RunRequest("python", {"main.py": "print(input() * 2)\n"}, stdin="ab\n")
        execution = await backend.run(request)
        chunks, result = await collect(execution)
        assert result.status is RunStatus.OK, result
        assert "".join(c.data for c in chunks if c.stream == "stdout") == "abab\n"
        assert result.extra["pooled"] is False and backend.pool.hits == 1
        assert backend.alive_checks >= 1  # the fresh container is watched too
        assert execution.container_id != waiting
        await execution.finished()
        assert waiting not in await containers_of(backend)
