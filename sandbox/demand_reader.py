"""A sandbox worker's side of the warm-pool demand: read what the servers wrote, take a share.

Keys (P = ``CLASSROOM_REDIS_PREFIX``):

    P pool:demand     hash: server process → its demand (sandbox.demand.encode_demand)
    P pool:workers    hash: worker name → the time it last read the demand

Every :data:`READ_SECONDS` a worker marks itself in ``pool:workers``, reads ``pool:demand``,
adds up the entries that are fresh (:func:`sandbox.demand.total_demand`) and gives its pool
its share: the total divided by the workers seen within ``DEMAND_TTL_SECONDS``, rounded up.
Faded entries of either hash are deleted by whoever sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

import redis.asyncio as redis
from redis.exceptions import RedisError

from sandbox.cancellation import raise_if_cancelled
from sandbox.demand import DEMAND_TTL_SECONDS, stale_entries, total_demand, worker_share

log = logging.getLogger("classroom.sandbox")

READ_SECONDS = 1.0


class DemandReader:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        name: str,
        set_demand: Callable[[Mapping[str, int]], None],
    ) -> None:
        self.client = client
        self.demand_key = f"{prefix}pool:demand"
        self.workers_key = f"{prefix}pool:workers"
        self.name = name
        self._set_demand = set_demand
        self.share: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._read_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(RedisError):
            await self.client.hdel(self.workers_key, self.name)

    async def read_once(self) -> dict[str, int]:
        now = time.time()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(self.workers_key, self.name, str(now))
            pipe.expire(self.workers_key, int(DEMAND_TTL_SECONDS))
            pipe.hgetall(self.demand_key)
            pipe.hgetall(self.workers_key)
            _, _, entries, workers = await pipe.execute()
        alive = [w for w, at in workers.items() if _fresh(at, now)]
        faded = [w for w in workers if w not in alive]
        stale = stale_entries(entries, now)
        if faded or stale:
            async with self.client.pipeline(transaction=False) as pipe:
                if faded:
                    pipe.hdel(self.workers_key, *faded)
                if stale:
                    pipe.hdel(self.demand_key, *stale)
                await pipe.execute()
        share = worker_share(total_demand(entries.values(), now), len(alive))
        if share != self.share:
            log.info("worker %s: warm-pool share %s of %d workers", self.name, share, len(alive))
        self.share = share
        self._set_demand(share)
        return share

    async def _read_forever(self) -> None:
        while True:
            raise_if_cancelled()
            try:
                await self.read_once()
            except RedisError:
                log.warning("worker %s: reading the warm-pool demand failed", self.name)
            except Exception:  # a bug: logged, and the next round tries again
                # (before, it ended this task: the pool stopped following demand until a restart)
                log.error(
                    "worker %s: applying the warm-pool demand failed", self.name, exc_info=True
                )
            await asyncio.sleep(READ_SECONDS)


def _fresh(raw: str, now: float) -> bool:
    try:
        return now - float(raw) <= DEMAND_TTL_SECONDS
    except ValueError:
        return False
