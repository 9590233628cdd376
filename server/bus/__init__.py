"""The bus between server processes: in-process (one machine) or Redis pub/sub (many).

A channel carries opaque bytes. Room documents use ``doc:{room}:{doc}``, room events
``room:{room}``. A message published on a channel reaches every subscriber of that channel
in every process, including the publisher's own process (subscribers filter by origin when
they must).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol


class Subscription(Protocol):
    """Messages of one channel, in order. Iterate it; ``close`` ends the iteration."""

    channel: str

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class Bus(Protocol):
    # True when other processes may be subscribed (Redis); an in-process bus only reaches
    # this process, whose own holders of state already have what they would publish.
    spans_processes: bool

    @property
    def healthy(self) -> bool:
        """False while the bus cannot reach its broker (messages are then local only)."""

    async def publish(self, channel: str, message: bytes) -> None: ...

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish each ``(channel, message)`` in order; to a broker, in one round trip."""

    async def subscribe(self, channel: str) -> Subscription:
        """Subscribe; on a broker, return once it confirmed (a message published after that
        reaches this subscription), or after a few seconds without a confirmation (logged)."""

    async def subscriber_counts(self, channels: Sequence[str]) -> dict[str, int]:
        """How many processes listen to each channel (on a broker, PUBSUB NUMSUB: one
        connection per process). Raises the broker's error while it is away."""

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Call ``callback`` after the broker came back and confirmed every channel
        subscribed again, so holders of state can resync."""

    async def start(self) -> None:
        """Connect (a bus that cannot reach its broker yet keeps trying in the background)."""

    async def close(self) -> None: ...
