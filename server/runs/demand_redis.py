"""Warm-pool demand published in Redis, for the sandbox workers (see :mod:`server.runs.demand`).

Its own module so that a process without Redis never imports the client library.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import redis.asyncio as redis
from redis.exceptions import RedisError

from sandbox.demand import DEMAND_TTL_SECONDS, encode_demand
from server.events.presence import PROCESS_ID
from server.runs.demand import demand_key

log = logging.getLogger("classroom.runs")


class RedisSink:
    """The shared hash the sandbox workers read."""

    def __init__(self, url: str, prefix: str, process: str = PROCESS_ID) -> None:
        self._client: redis.Redis = redis.Redis.from_url(url, decode_responses=True)
        self.key = demand_key(prefix)
        self.process = process

    async def publish(self, demand: Mapping[str, int]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hset(self.key, self.process, encode_demand(demand, time.time()))
                pipe.expire(self.key, int(DEMAND_TTL_SECONDS))
                await pipe.execute()
        except RedisError as exc:  # one line: while the broker is away this comes every round
            log.warning("could not publish the warm-pool demand: %s", exc)

    async def close(self) -> None:
        try:
            await self._client.hdel(self.key, self.process)
        except RedisError:
            log.warning("could not withdraw the warm-pool demand", exc_info=True)
        await self._client.aclose()
