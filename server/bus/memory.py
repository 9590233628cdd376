"""The bus of a single process: channels are lists of asyncio queues."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

_CLOSED = object()


class MemorySubscription:
    def __init__(self, bus: InMemoryBus, channel: str) -> None:
        self.channel = channel
        self._bus = bus
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    def deliver(self, message: bytes) -> None:
        self._queue.put_nowait(message)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            assert isinstance(item, bytes)
            yield item

    async def close(self) -> None:
        self._bus._remove(self)
        self._queue.put_nowait(_CLOSED)


class InMemoryBus:
    """Delivers every published message to each subscriber of the channel, in order."""

    spans_processes = False

    def __init__(self) -> None:
        self._channels: dict[str, list[MemorySubscription]] = defaultdict(list)

    @property
    def healthy(self) -> bool:
        return True

    async def start(self) -> None:
        """Nothing to connect to."""

    async def publish(self, channel: str, message: bytes) -> None:
        for subscription in list(self._channels.get(channel, ())):
            subscription.deliver(message)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        for channel, message in messages:
            await self.publish(channel, message)

    async def subscribe(self, channel: str) -> MemorySubscription:
        subscription = MemorySubscription(self, channel)
        self._channels[channel].append(subscription)
        return subscription

    async def subscriber_counts(self, channels: Sequence[str]) -> dict[str, int]:
        """One process: 1 for a channel with a subscription, else 0."""
        return {channel: 1 if self._channels.get(channel) else 0 for channel in channels}

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Never called: an in-process bus cannot lose its broker."""

    def _remove(self, subscription: MemorySubscription) -> None:
        subscribers = self._channels.get(subscription.channel)
        if subscribers and subscription in subscribers:
            subscribers.remove(subscription)
            if not subscribers:
                del self._channels[subscription.channel]

    async def close(self) -> None:
        for subscribers in list(self._channels.values()):
            for subscription in list(subscribers):
                await subscription.close()
