"""What this process publishes to the bus, in order, in batches: the document frames (each
once its commit is done) and the room events of several processes."""

from __future__ import annotations

import asyncio
import logging

from server.bus import Bus

log = logging.getLogger("classroom.bus")

# At most this many messages in one publication to the bus.
PUBLISH_BATCH = 256


class Publisher:
    """Queue with :meth:`publish`; :meth:`run` sends, as a task of its owner's."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._queue: asyncio.Queue[tuple[str, bytes, asyncio.Future[None] | None]] = asyncio.Queue()
        self._idle = asyncio.Event()  # nothing queued or being sent
        self._idle.set()

    @property
    def queued(self) -> int:
        """Messages not yet taken for sending."""
        return self._queue.qsize()

    def publish(self, channel: str, message: bytes, barrier: asyncio.Future[None] | None) -> None:
        """Queue ``message``, to go once ``barrier`` (a document's commit) is done."""
        self._idle.clear()
        self._queue.put_nowait((channel, message, barrier))

    async def flush(self, seconds: float) -> bool:
        """Wait (at most ``seconds``) until everything queued so far is sent or dropped, as a
        process that stops does; whether it was."""
        try:
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Messages go out in the order they were queued, each once its barrier is done; the
        messages queued by then go together (one round trip to Redis for up to
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
                log.error("publishing %d messages failed", len(ready), exc_info=True)
            if queue.empty():
                self._idle.set()
