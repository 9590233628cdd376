"""Fair use of the sandbox: one student cannot fill the run queue, and grading keeps room.

Rule 1: a user has at most ``per_user`` interactive runs queued or running (in this process);
one more is refused with 429 ``too_many_runs``, and nobody else notices.
Rule 2: interactive runs may fill the queue only up to ``capacity - reserved`` (429
``queue_full``), ``reserved`` being ``grading_reserved`` but at most a quarter of the capacity;
the rest is kept for grading runs, which do not pass here.
Rule 3: a submission whose grading is refused for capacity (the queue is full, the sandbox is
unreachable) is withdrawn, not stored as an error: it does not count as an attempt.
Rule 4: a user starts at most ``runs_per_minute`` interactive runs a minute (429
``rate_limited`` with ``Retry-After``; counted in Redis by every process when there is one).
Rule 1 alone let one student script 62 runs a second, three at a time, each printing 140 KB:
4 MB a second of output on the room's staff sockets.
Rule 5: a room keeps a user's newest ``runs_kept_per_user`` finished runs
(server/runs/records.py); the same script grew the database by 5.6 MB a second, for ever.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from sandbox.queue import QueuedRun
from server.exceptions import TooManyRequests
from server.security.ratelimit import RateLimiter


class SandboxBusy(TooManyRequests):
    code = "sandbox_busy"


class FairShare:
    def __init__(
        self,
        per_user: int,
        capacity: int,
        grading_reserved: int,
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.per_user = per_user
        self.limiter = limiter
        self.grading_reserved = grading_reserved
        self.resize(capacity)
        self._by_user: Counter[int] = Counter()
        self._total = 0
        self._tasks: set[asyncio.Task[object]] = set()

    def resize(self, capacity: int) -> None:
        """Runs at once plus queued, once the backend (and with it the concurrency) is known."""
        # At most a quarter of the capacity is held back (none of a tiny test queue).
        self.reserved = min(self.grading_reserved, capacity // 4)
        self.interactive_limit = capacity - self.reserved

    def in_flight(self, user_id: int) -> int:
        return self._by_user[user_id]

    def check(self, user_id: int) -> None:
        """Raise TooManyRequests when ``user_id`` may not start one more run now."""
        if self.per_user > 0 and self._by_user[user_id] >= self.per_user:
            raise TooManyRequests(
                f"you have {self.per_user} runs queued or running; wait for one to finish",
                code="too_many_runs",
            )
        if self.reserved and self._total >= self.interactive_limit:
            raise TooManyRequests(
                "the run queue is full (the rest is kept for grading); try again soon",
                code="queue_full",
            )

    async def admit(self, user_id: int) -> None:
        """Rules 1, 2 and 4: raise TooManyRequests unless ``user_id`` may start a run now;
        a run admitted counts against the minute's budget."""
        self.check(user_id)
        if self.limiter is not None:
            await self.limiter.check_budget("runs-user", str(user_id), "runs")

    def track(self, user_id: int, run: QueuedRun) -> None:
        """Count ``run`` against ``user_id`` until it finishes."""
        self._by_user[user_id] += 1
        self._total += 1

        def release(_task: asyncio.Task[object]) -> None:
            self._tasks.discard(_task)
            self._by_user[user_id] -= 1
            if self._by_user[user_id] <= 0:
                del self._by_user[user_id]
            self._total -= 1

        task: asyncio.Task[object] = asyncio.create_task(run.wait(), name=f"fair-{run.id}")
        self._tasks.add(task)
        task.add_done_callback(release)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
