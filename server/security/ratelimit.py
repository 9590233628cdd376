"""Fixed-window rate limits keyed by what is being protected (an address, an account, a code).

``hit(scope, key)`` counts one attempt and returns ``None`` while the key is within its
limit, else the seconds until its window ends (the ``Retry-After``). With Redis the counters
are shared by every process (``INCR`` + ``EXPIRE`` in one transaction), so running more
processes does not multiply the budget; without it they live in this process's memory.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from server.exceptions import TooManyRequests
from server.redis_clients import bounded_client

log = logging.getLogger("classroom.security")


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


class Counters(Protocol):
    async def incr(self, key: str, seconds: int) -> tuple[int, float]:
        """Count one hit on ``key``; return the count in its window and seconds left."""

    async def close(self) -> None: ...


class MemoryCounters:
    """Counters of one process. Expired windows are swept as new ones open."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    async def incr(self, key: str, seconds: int) -> tuple[int, float]:
        now = self._clock()
        end, count = self._windows.get(key, (0.0, 0))
        if end <= now:
            if len(self._windows) > 10_000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            end, count = now + seconds, 0
        count += 1
        self._windows[key] = (end, count)
        return count, end - now

    async def close(self) -> None:
        self._windows.clear()


class RedisCounters:
    """Counters in Redis, shared by every process of the deployment (keys carry ``prefix``)."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: Any = bounded_client(url)
        self._prefix = prefix

    async def incr(self, key: str, seconds: int) -> tuple[int, float]:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, seconds, nx=True)
            pipe.pttl(name)
            count, _, ttl_ms = await pipe.execute()
        left = ttl_ms / 1000 if ttl_ms and ttl_ms > 0 else float(seconds)
        return int(count), left

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    """Named limits over one set of counters."""

    def __init__(self, counters: Counters, limits: dict[str, Limit]) -> None:
        self.counters = counters
        self.limits = limits

    async def hit(self, scope: str, key: str) -> float | None:
        limit = self.limits[scope]
        if limit.count <= 0:
            return None
        count, left = await self.counters.incr(f"rl:{scope}:{key}", limit.seconds)
        return None if count <= limit.count else max(left, 0.001)

    async def check(self, scope: str, key: str, what: str) -> None:
        """Count a hit; raise :class:`TooManyRequests` with the retry delay when over."""
        retry = await self.hit(scope, key)
        if retry is not None:
            log.info("rate limit %s reached for %s", scope, key)
            raise RateLimited(f"too many {what}; try again in {math.ceil(retry)} s", retry)

    async def check_budget(self, scope: str, key: str, what: str) -> None:
        """:meth:`check`, the refusal naming the budget: ``too many runs: at most 120 a minute;
        try again in 41 s``."""
        limit = self.limits[scope]
        per = "a minute" if limit.seconds == 60 else f"in {limit.seconds} s"
        await self.check(scope, key, f"{what}: at most {limit.count} {per}")

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.counters.close()


class RateLimited(TooManyRequests):
    """429 with the seconds to wait; the API layer sends them as ``Retry-After``."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = math.ceil(retry_after)
