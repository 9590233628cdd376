"""RedisBus against real Redis: the shared server, and a private one we stop and restart."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator

import pytest

from server.bus import redis as redis_bus
from server.bus.redis import RedisBus
from tests.conftest import free_port
from tests.server.processes import PrivateRedis
from tests.services import REDIS_URL, require

pytestmark = pytest.mark.redis


async def next_message(iterator: AsyncIterator[bytes]) -> bytes:
    return await asyncio.wait_for(anext(iterator), 5.0)


def reconnect_event(bus: RedisBus) -> asyncio.Event:
    """Set when ``bus`` is back after an outage (its on_reconnect callbacks run)."""
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    bus.on_reconnect(on_reconnect)
    return reconnected


@pytest.fixture
async def buses() -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    require("redis")
    one, two = RedisBus(REDIS_URL), RedisBus(REDIS_URL)
    await one.start()
    await two.start()
    yield one, two
    await one.close()
    await two.close()


async def test_a_message_reaches_subscribers_in_every_process(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    one, two = buses
    assert one.healthy and two.healthy
    channel = f"test:{uuid.uuid4().hex}"
    here = await one.subscribe(channel)
    there = await two.subscribe(channel)
    await one.publish(channel, b"\x00\x02hello")
    assert await next_message(aiter(here)) == b"\x00\x02hello"
    there_messages = aiter(there)
    assert await next_message(there_messages) == b"\x00\x02hello"
    await two.publish(channel, b"second")
    assert await next_message(there_messages) == b"second"
    await there.close()
    assert [m async for m in there] == []


async def test_many_messages_go_out_in_order_on_their_channels(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    one, two = buses
    first, second = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    a = aiter(await two.subscribe(first))
    b = aiter(await two.subscribe(second))
    await one.publish_many([(first, b"1"), (second, b"x"), (first, b"2"), (first, b"3")])
    await one.publish_many([])  # nothing to send: no round trip, no error
    assert [await next_message(a) for _ in range(3)] == [b"1", b"2", b"3"]
    assert await next_message(b) == b"x"
    await one.publish(first, b"4")  # a single publication after the batch comes after it
    assert await next_message(a) == b"4"


async def test_a_subscription_is_confirmed_when_subscribe_returns_and_counted(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    one, two = buses
    channel, unheard = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    subscription = await one.subscribe(channel)
    # Redis has it: a message published now, from another connection, reaches it.
    assert await two.subscriber_counts([channel, unheard]) == {channel: 1, unheard: 0}
    await two.publish(channel, b"right after")
    assert await next_message(aiter(subscription)) == b"right after"
    await two.subscribe(channel)
    assert await one.subscriber_counts([channel]) == {channel: 2}
    await subscription.close()
    # Let go, and taken again at once: subscribe waits for its own confirmation.
    again = await one.subscribe(channel)
    await two.publish(channel, b"again")
    assert await next_message(aiter(again)) == b"again"


async def test_a_subscribe_waiting_for_a_broker_that_hung_returns_when_the_bus_gives_up(
    private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis stops answering (SIGSTOP) while a subscription waits for its confirmation: the
    reader's ping goes unanswered, the bus notices within seconds and the waiter goes on (the
    reconnect resyncs). Before, the ping only sent: a stopped broker was never noticed."""
    monkeypatch.setattr(redis_bus, "CONFIRM_SECONDS", 120.0)  # only the outage can end it
    bus = RedisBus(private_redis.url, backoff_initial=0.05, backoff_max=0.2)
    try:
        await bus.start()
        assert private_redis.process is not None
        os.kill(private_redis.process.pid, signal.SIGSTOP)
        try:
            # Before the bus notices, a publication fails on its command timeout, not never.
            await asyncio.wait_for(bus.publish("doc:1:hung", b"into the void"), 30)
            subscription = await asyncio.wait_for(bus.subscribe("doc:1:hung"), 30)
            assert not bus.healthy
            assert subscription.channel == "doc:1:hung"
        finally:
            os.kill(private_redis.process.pid, signal.SIGCONT)
        await asyncio.wait_for(bus.wait_for_health(True), 10)
    finally:
        await bus.close()


async def test_outage_degrades_then_resubscribes_and_calls_back(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    bus = RedisBus(private_redis.url, backoff_initial=0.05, backoff_max=0.2)
    peer = RedisBus(private_redis.url, backoff_initial=0.05, backoff_max=0.2)
    reconnected = reconnect_event(bus)
    try:
        await bus.start()
        await peer.start()
        subscription = await bus.subscribe("doc:1:demo")
        messages = aiter(subscription)
        # The peer's pool keeps these connections, which the broker's restart will close.
        await peer.publish_many([("doc:1:demo", b"before")])
        assert await next_message(messages) == b"before"
        await peer.publish("doc:1:demo", b"and before")
        assert await next_message(messages) == b"and before"

        private_redis.kill()
        await asyncio.wait_for(bus.wait_for_health(False), 10)
        assert not bus.healthy
        await bus.publish("doc:1:demo", b"dropped while down")  # no exception
        assert any("unreachable" in r.getMessage() for r in caplog.records)

        private_redis.start()
        await asyncio.wait_for(reconnected.wait(), 10)
        assert bus.healthy
        await asyncio.wait_for(peer.wait_for_health(True), 10)
        # Neither the first single publication nor the first pipeline after the return meets
        # a connection the restart closed.
        await peer.publish("doc:1:demo", b"after return")
        assert await next_message(messages) == b"after return"
        await peer.publish_many([("doc:1:demo", b"and on"), ("doc:1:demo", b"and on again")])
        assert await next_message(messages) == b"and on"
        assert await next_message(messages) == b"and on again"
    finally:
        await bus.close()
        await peer.close()


async def test_starting_without_redis_is_not_fatal() -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0", backoff_initial=0.05)
    try:
        await bus.start(wait=0.2)
        assert not bus.healthy
        await bus.publish("x", b"y")
        subscription = await bus.subscribe("x")
        await subscription.close()
    finally:
        await bus.close()


class FailingOnce(RedisBus):
    """A bus whose first read meets a bug (any exception that is not the broker's)."""

    failed = False

    async def _read(self, pubsub: object) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a bug in the reader")
        await super()._read(pubsub)


async def test_a_reader_that_fails_on_a_bug_logs_it_and_reconnects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before, only the broker's errors were caught: any other one ended the reader task
    silently, and the process stayed without its bus (local-only, unready) until restarted."""
    require("redis")
    bus = FailingOnce(REDIS_URL, backoff_initial=0.05)
    peer = RedisBus(REDIS_URL)
    reconnected = reconnect_event(bus)
    try:
        await bus.start()
        await peer.start()
        await asyncio.wait_for(reconnected.wait(), 10)
        assert bus.healthy
        [failure] = [r for r in caplog.records if "reader failed" in r.getMessage()]
        assert failure.exc_info is not None and "a bug in the reader" in str(failure.exc_info[1])
        channel = f"test:{uuid.uuid4().hex}"
        messages = aiter(await bus.subscribe(channel))
        await peer.publish(channel, b"still delivered")
        assert await next_message(messages) == b"still delivered"
    finally:
        await bus.close()
        await peer.close()
