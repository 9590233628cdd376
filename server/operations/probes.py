"""Whether the database and Redis answer, as gauges Prometheus can alert on.

``/ready`` answers the same question for a load balancer, but only when asked; this probe
asks every ``interval`` seconds so ``classroom_dependency_up`` is current at every scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import Gauge

from sandbox.cancellation import raise_if_cancelled
from server.bus import Bus
from server.store import Store

log = logging.getLogger("classroom.operations")


class DependencyProbe:
    def __init__(
        self, gauge: Gauge, store: Store, bus: Bus, *, redis: bool, interval: float = 5.0
    ) -> None:
        self.gauge = gauge
        self.store = store
        self.bus = bus
        self.redis = redis
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.probe()
        self._task = asyncio.create_task(self._loop(), name="dependency-probe")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def probe(self) -> None:
        try:
            async with asyncio.timeout(self.interval):
                await self.store.ping()
            self.gauge.labels("database").set(1)
        except Exception as exc:  # any failure of the ping means "down" to the operator
            log.warning("database unreachable: %s", exc)
            self.gauge.labels("database").set(0)
        if self.redis:
            self.gauge.labels("redis").set(1 if getattr(self.bus, "healthy", False) else 0)

    async def _loop(self) -> None:
        while True:
            raise_if_cancelled()
            await asyncio.sleep(self.interval)
            await self.probe()
