"""Redis clients with a bounded pool that waits for a free connection.

redis-py's default pool opens up to 100 connections and then fails the command with ``Too
many connections``: a class arriving at once (each events socket announces its presence in
four commands) or a burst of demo moves on a busy event loop keeps more than that in flight,
and presence, demo state and locks failed. A :class:`~redis.asyncio.BlockingConnectionPool`
caps what each component opens and makes a command wait up to ``wait_seconds`` for a
connection instead, so a process's Redis connections are bounded by the sum of its pools
(the bus's pub/sub reader holds one of the bus's for good).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis.asyncio as redis

POOL_SIZE = 16
WAIT_SECONDS = 10.0


def bounded_client(
    url: str,
    *,
    max_connections: int = POOL_SIZE,
    wait_seconds: float = WAIT_SECONDS,
    **kwargs: Any,
) -> redis.Redis:
    """A client for ``url`` with at most ``max_connections`` connections; a command waits up
    to ``wait_seconds`` for one before it fails. redis is imported here, not with the module:
    a process without Redis never loads it (about 7 MiB)."""
    import redis.asyncio as redis

    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait_seconds, **kwargs
    )
    return redis.Redis.from_pool(pool)
