"""Bounded Redis clients: a burst waits for a connection instead of failing
(server/redis_clients.py), and presence keeps counting under a class-sized burst."""

from __future__ import annotations

import asyncio
import uuid

from server.events.presence import PROCESS_ID
from server.events.presence_redis import RedisPresence
from server.redis_clients import bounded_client
from tests.services import REDIS_URL, require

BURST = 300


async def test_a_burst_waits_for_the_pool_and_never_opens_more() -> None:
    require("redis")
    client = bounded_client(REDIS_URL, max_connections=4)
    key = f"test:bounded:{uuid.uuid4().hex}"
    try:
        results = await asyncio.gather(
            *(client.incr(key) for _ in range(BURST)), return_exceptions=True
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert int(await client.get(key)) == BURST
        pool = client.connection_pool
        opened = len(pool._available_connections) + len(pool._in_use_connections)
        assert 1 <= opened <= 4
    finally:
        await client.delete(key)
        await client.aclose()


async def test_presence_counts_every_arrival_of_a_class_arriving_at_once() -> None:
    require("redis")
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    presence = RedisPresence(REDIS_URL, prefix)
    check = bounded_client(REDIS_URL)
    try:
        # Each arrival is four commands; redis-py's default pool (100, then "Too many
        # connections") dropped arrivals from the shared count when a class came in at once.
        await asyncio.gather(*(presence.arrive(1, user) for user in range(BURST)))
        shared = await check.hgetall(f"{prefix}presence:1")
        assert len(shared) == BURST
        assert {k.decode().rpartition(":")[0] for k in shared} == {PROCESS_ID}
    finally:
        keys = [k async for k in check.scan_iter(f"{prefix}*")]
        if keys:
            await check.delete(*keys)
        await check.aclose()
        await presence.close()
