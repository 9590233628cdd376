"""How late the event loop runs a timer: the lag every socket of this process waits on.

A task sleeps ``interval`` seconds again and again and records how much later than asked it
woke. A loop kept busy by one long callback (a big document merge, a synchronous call that
should have gone to a thread) shows up here before it shows up as fan-out latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import Histogram

log = logging.getLogger("classroom.operations")

WARN_SECONDS = 0.25


class LoopLag:
    def __init__(self, histogram: Histogram, *, interval: float = 0.5) -> None:
        self.histogram = histogram
        self.interval = interval
        self.last = 0.0
        self._sampled = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="event-loop-lag")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def next_sample(self) -> float:
        """Wait for the next measurement and return it."""
        async with self._sampled:
            await self._sampled.wait()
        return self.last

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.last = max(0.0, loop.time() - asked)
            self.histogram.observe(self.last)
            async with self._sampled:
                self._sampled.notify_all()
            if self.last > WARN_SECONDS:
                log.warning("event loop lag %.3f s", self.last)
