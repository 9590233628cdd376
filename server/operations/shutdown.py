"""One deadline for everything a stopping server process lets finish.

On SIGTERM uvicorn stops accepting, closes every WebSocket with 1012 (service restart: the
clients reconnect, through the load balancer, to another process) and waits for its tasks at
most ``timeout_graceful_shutdown`` (= CLASSROOM_SHUTDOWN_GRACE_SECONDS). Then the lifespan
closes the components: grading in progress and runs in progress get what is left of the
same deadline to finish (their events reach the room's clients on the other processes
through the bus); what is still running then is cancelled and reported as cancelled. Every
acknowledged document update is already stored (it is committed before it is broadcast), and
closing presence removes this process's entries from Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection


class ShutdownDeadline:
    """``grace`` seconds, counted from the first time anyone asks how much is left."""

    def __init__(self, grace: float) -> None:
        self.grace = max(0.0, grace)
        self._ends: float | None = None

    def remaining(self) -> float:
        now = asyncio.get_running_loop().time()
        if self._ends is None:
            self._ends = now + self.grace
        return max(0.0, self._ends - now)

    async def wait(self, tasks: Collection[asyncio.Task[object]]) -> int:
        """Wait for ``tasks`` until the deadline; returns how many are still running."""
        if not tasks:
            return 0
        left = self.remaining()
        if left <= 0:
            return sum(1 for t in tasks if not t.done())
        _done, pending = await asyncio.wait(set(tasks), timeout=left)
        return len(pending)
