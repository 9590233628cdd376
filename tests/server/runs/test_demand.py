"""Warm-pool demand: what rooms add up to, the server's pool following a lesson, and the
Redis path from servers to sandbox workers."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis

from sandbox.demand import DEMAND_TTL_SECONDS, encode_demand
from sandbox.demand_reader import DemandReader
from server.bus.memory import InMemoryBus
from server.events.hub import RoomHub
from server.events.presence import LocalPresence
from server.metrics import Metrics
from server.runs.demand import (
    RECENT_LANGUAGE_SECONDS,
    PoolDemand,
    RoomFacts,
    class_demand,
    demand_key,
)
from server.runs.demand_redis import RedisSink
from server.settings import Settings
from server.store import Store
from tests.conftest import Lesson, LiveServer, make_settings
from tests.sandbox.docker_support import containers_of, docker_backend, require_images
from tests.services import REDIS_URL, require
from tests.support.events import EventClient

DATABASES = ("sqlite",)


def test_rooms_count_only_while_a_lesson_is_on() -> None:
    rooms = [
        RoomFacts(students=12, on=True, languages=frozenset()),  # Python when nothing says
        RoomFacts(students=5, on=True, languages=frozenset({"c", "python"})),
        RoomFacts(students=40, on=False, languages=frozenset({"python"})),  # no lesson
        RoomFacts(students=0, on=True, languages=frozenset({"rust"})),
    ]
    assert class_demand(rooms) == {"python": 17, "c": 5}
    assert class_demand([]) == {}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    require_images()
    return make_settings(tmp_path, database_url, sandbox="docker", pool_parallel="2")


async def test_the_pool_follows_the_students_of_a_lesson(
    server: LiveServer, live_lesson: Lesson
) -> None:
    pool = server.state.runs.backend.pool  # type: ignore[union-attr]
    # CLASSROOM_RUN_CONCURRENCY unset: with Docker, as many runs at once as the pool may hold
    assert server.state.runs._dispatcher.concurrency == max(os.cpu_count() or 2, 48)  # type: ignore[union-attr]

    async def until(holds: Callable[[], bool]) -> None:
        async with asyncio.timeout(60):
            await server.on_server_loop(pool.until(holds))

    room = live_lesson.room_id
    alice = await EventClient.open(server.ws_url, room, live_lesson.alice.token)
    bob = await EventClient.open(server.ws_url, room, live_lesson.bob.token)
    for client in (alice, bob):
        await client.expect("room.snapshot")
    demand = server.state.runs.demand
    assert await server.on_server_loop(demand.measure()) == {}  # no lesson on: no demand
    assert pool.targets()["python"] == 0

    teacher = await EventClient.open(server.ws_url, room, live_lesson.teacher.token)
    await teacher.expect("room.snapshot")  # the instructor is in: the lesson is on
    await until(lambda: pool.targets()["python"] == 2)
    await until(lambda: pool.size("python") == 2)
    async with httpx.AsyncClient(base_url=server.url) as http:
        text = (await http.get("/metrics")).text
    assert 'classroom_sandbox_pool_target{language="python"} 2.0' in text
    assert 'classroom_sandbox_pool_demand{language="python"} 2.0' in text

    await bob.close()  # a student leaves
    await until(lambda: pool.targets()["python"] == 1 and pool.size("python") == 1)
    await teacher.close()  # the lesson ends
    await until(lambda: pool.targets()["python"] == 0 and pool.size("python") == 0)
    await alice.close()


async def test_demand_reaches_the_workers_through_redis() -> None:
    require("redis")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    client: redis.Redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    server_a = RedisSink(REDIS_URL, prefix, process="server-a")
    server_b = RedisSink(REDIS_URL, prefix, process="server-b")
    try:
        async with docker_backend(pool_size=0, pool_languages=["python"]) as backend:
            worker = DemandReader(client, prefix, "worker-1", backend.pool.set_demand)
            await server_a.publish({"python": 3})
            await server_b.publish({"python": 1})
            assert await worker.read_once() == {"python": 4}
            assert backend.pool.targets() == {"python": 4}
            async with asyncio.timeout(60):
                await backend.pool.wait_full()
            assert len(await containers_of(backend)) == 4

            other: dict[str, int] = {}
            second = DemandReader(client, prefix, "worker-2", other.update)
            await second.read_once()  # a second worker: each takes half
            assert await worker.read_once() == {"python": 2}
            assert other == {"python": 2} and backend.pool.targets() == {"python": 2}

            # a dead server's entry fades; a closed server withdraws its own
            await client.hset(
                demand_key(prefix),
                "server-a",
                encode_demand({"python": 3}, time.time() - DEMAND_TTL_SECONDS - 1),
            )
            await server_b.close()
            assert await worker.read_once() == {}
            assert await client.hgetall(demand_key(prefix)) == {}
            assert backend.pool.targets() == {"python": 0}
            await worker.close()
            await second.close()
            assert await client.exists(f"{prefix}pool:workers") == 0
    finally:
        await server_a.close()
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_a_run_measures_again_only_when_it_adds_a_language(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("server.runs.demand.time.monotonic", lambda: clock[0])
    demand = PoolDemand(store, RoomHub(InMemoryBus(), LocalPresence(), Metrics()))
    changed = demand._changed
    demand.saw_run(1, "python")
    assert changed.is_set()
    changed.clear()
    clock[0] += 60
    demand.saw_run(1, "python")  # the room already runs Python: nothing to measure
    assert not changed.is_set()
    demand.saw_run(1, "c")  # a new language for this room
    assert changed.is_set()
    changed.clear()
    demand.saw_run(2, "c")  # the same language in another room
    assert changed.is_set()
    changed.clear()
    clock[0] += RECENT_LANGUAGE_SECONDS + 1  # Python has expired from room 1 meanwhile
    demand.saw_run(1, "python")
    assert changed.is_set()


async def test_a_worker_that_fails_to_apply_the_demand_reads_it_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug while applying the demand (here the pool's setter raises once) is logged and
    the next round applies it; before, it ended the reader and the pool stopped following."""
    require("redis")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    client: redis.Redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    server = RedisSink(REDIS_URL, prefix, process="server-a")
    applied: list[Mapping[str, int]] = []
    again = asyncio.Event()

    def set_demand(share: Mapping[str, int]) -> None:
        if not applied:
            applied.append(share)
            raise RuntimeError("a bug in the pool")
        applied.append(share)
        again.set()

    worker = DemandReader(client, prefix, "worker-1", set_demand)
    try:
        await server.publish({"python": 2})
        worker.start()
        await asyncio.wait_for(again.wait(), 10)
        assert applied[-1] == {"python": 2}
        [failure] = [r for r in caplog.records if "applying the warm-pool demand" in r.getMessage()]
        assert failure.exc_info is not None and "a bug in the pool" in str(failure.exc_info[1])
    finally:
        await worker.close()
        await server.close()
        await client.aclose()
