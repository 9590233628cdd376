"""The frames this process publishes to the bus, in order, each once its commit is done."""

from __future__ import annotations

import asyncio
import logging

from server.bus import Bus

log = logging.getLogger("classroom.docs")

# At most this many frames in one publication to the bus.
PUBLISH_BATCH = 256


class Publisher:
    """Queue with :meth:`publish`; :meth:`run` sends, as a task of the registry's."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._queue: asyncio.Queue[tuple[str, bytes, asyncio.Future[None] | None]] = asyncio.Queue()

    @property
    def queued(self) -> int:
        """Messages not yet taken for sending."""
        return self._queue.qsize()

    def publish(self, channel: str, message: bytes, barrier: asyncio.Future[None] | None) -> None:
        """Queue ``message`` (a document's origin, then a frame), to go once ``barrier`` (a
        commit) is done."""
        self._queue.put_nowait((channel, message, barrier))

    async def run(self) -> None:
        """Frames go out in the order they were queued, each once its commit is done; the
        frames queued by then go together (one round trip to Redis for up to
        PUBLISH_BATCH), so a busy process does not pay a round trip per update."""
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < PUBLISH_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            ready: list[tuple[str, bytes]] = []
            for channel, message, barrier in batch:
                if barrier is not None:
                    try:
                        await barrier
                    except Exception:  # its commit failed: logged, not published
                        log.error("publishing on %s failed", channel, exc_info=True)
                        continue
                ready.append((channel, message))
            try:
                await self.bus.publish_many(ready)
            except Exception:
                log.error("publishing %d frames failed", len(ready), exc_info=True)
