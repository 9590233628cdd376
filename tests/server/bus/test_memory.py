"""InMemoryBus: every subscriber of a channel gets each message, in order; close ends it."""

from __future__ import annotations

import asyncio

from server.bus.memory import InMemoryBus, MemorySubscription


async def test_messages_reach_every_subscriber_of_the_channel_in_order() -> None:
    bus = InMemoryBus()
    one = await bus.subscribe("doc:1:demo")
    two = await bus.subscribe("doc:1:demo")
    other = await bus.subscribe("doc:2:demo")
    for message in (b"a", b"b", b"c"):
        await bus.publish("doc:1:demo", message)
    await other.close()
    await one.close()
    await two.close()
    assert [m async for m in one] == [b"a", b"b", b"c"]
    assert [m async for m in two] == [b"a", b"b", b"c"]
    assert [m async for m in other] == []
    assert bus.healthy


async def test_a_closed_subscription_gets_nothing_more() -> None:
    bus = InMemoryBus()
    subscription = await bus.subscribe("x")
    await subscription.close()
    await bus.publish("x", b"late")
    received = await asyncio.wait_for(_collect(subscription), 1)
    assert received == []


async def _collect(subscription: MemorySubscription) -> list[bytes]:
    return [m async for m in subscription]
