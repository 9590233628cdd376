"""Two RoomHubs (two processes) on a real Redis that goes away and comes back: what one
published while the bus was away reaches the other's sockets as a fresh snapshot."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rooms.events import ROOM_AUDIENCE
from server.bus.redis import RedisBus
from server.events.hub import RoomConnection, RoomHub
from server.events.presence import LocalPresence
from server.metrics import Metrics
from tests.server.processes import PrivateRedis

pytestmark = pytest.mark.redis

ROOM = 7


async def next_event(conn: RoomConnection) -> dict[str, Any]:
    event = await asyncio.wait_for(conn.outbox.get(), 10)
    assert event is not None
    decoded: dict[str, Any] = json.loads(event.text)
    return decoded


async def test_events_missed_in_an_outage_come_back_as_a_snapshot(
    private_redis: PrivateRedis,
) -> None:
    # The state both processes read their snapshots from (the database, in the server).
    shared = {"step": 1}

    async def demo(conn: RoomConnection) -> dict[str, int]:
        return dict(shared)

    buses = [RedisBus(private_redis.url, backoff_initial=0.05, backoff_max=0.2) for _ in "ab"]
    # Two processes: each knows its own messages on the bus by its origin.
    hubs = [
        RoomHub(bus, LocalPresence(), Metrics(), origin=f"process-{i}")
        for i, bus in enumerate(buses)
    ]
    for bus, hub in zip(buses, hubs, strict=True):
        hub.snapshot_part("demo", demo)
        await bus.start()
        await hub.start()
    here, there = hubs
    try:
        teacher = RoomConnection(room_id=ROOM, user_id=1, name="T", role="instructor")
        student = RoomConnection(room_id=ROOM, user_id=2, name="S", role="student")
        await here.join(teacher)
        teacher.open_with(await here.snapshot(teacher))
        assert await here.publisher.flush(5)  # its member.joined, before the student's hub listens
        await there.join(student)
        student.open_with(await there.snapshot(student))
        assert (await next_event(student))["demo"] == {"step": 1}
        await here.publish(ROOM, ROOM_AUDIENCE, {"type": "demo.step", "step": 1})
        assert (await next_event(student))["type"] == "demo.step"

        private_redis.kill()
        await asyncio.wait_for(buses[1].wait_for_health(False), 10)
        shared["step"] = 2
        await here.publish(ROOM, ROOM_AUDIENCE, {"type": "demo.step", "step": 2})  # lost
        assert student.outbox.empty()

        private_redis.start()
        snapshot = await next_event(student)
        assert snapshot["type"] == "room.snapshot"
        assert snapshot["demo"] == {"step": 2}
        assert snapshot["you"]["id"] == 2
        # And the bus carries events again, after the snapshot.
        await asyncio.wait_for(buses[0].wait_for_health(True), 10)
        shared["step"] = 3
        await here.publish(ROOM, ROOM_AUDIENCE, {"type": "demo.step", "step": 3})
        event = await next_event(student)
        while event["type"] == "room.snapshot":  # ours again, if our bus came back second
            event = await next_event(student)
        assert event == {"type": "demo.step", "step": 3}
    finally:
        for hub, bus in zip(hubs, buses, strict=True):
            await hub.close()
            await bus.close()


async def test_a_burst_goes_out_in_order_and_a_closing_hub_sends_what_it_queued(
    private_redis: PrivateRedis,
) -> None:
    """Events go to the bus through one queue, those queued by then in one round trip; a hub
    that closes (its process stopping) sends what is still queued first."""
    buses = [RedisBus(private_redis.url) for _ in "ab"]
    here, there = (
        RoomHub(bus, LocalPresence(), Metrics(), origin=f"process-{i}")
        for i, bus in enumerate(buses)
    )
    for bus, hub in zip(buses, (here, there), strict=True):
        await bus.start()
        await hub.start()
    try:
        teacher = RoomConnection(room_id=ROOM, user_id=1, name="T", role="instructor")
        student = RoomConnection(room_id=ROOM, user_id=2, name="S", role="student")
        await there.join(student)
        student.open_with({"type": "room.snapshot"})
        await next_event(student)
        await here.join(teacher)  # its member.joined is the first thing queued
        assert (await next_event(student))["type"] == "member.joined"
        for n in range(300):
            await here.publish(ROOM, ROOM_AUDIENCE, {"type": "run.output", "n": n})
        assert here.publisher.queued == 300  # no turn of the loop yet: nothing sent
        await here.close()
        assert here.publisher.queued == 0
        assert [(await next_event(student))["n"] for _ in range(300)] == list(range(300))
    finally:
        for hub, bus in zip((here, there), buses, strict=True):
            await hub.close()
            await bus.close()


async def test_its_own_messages_are_dropped_unread(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """A process reads its own events back from Redis: it knows them by their first bytes and
    drops them without decoding (what follows is not even looked at); others' are decoded."""
    bus = RedisBus(private_redis.url)
    hub = RoomHub(bus, LocalPresence(), Metrics(), origin="process-0")
    await bus.start()
    await hub.start()
    try:
        student = RoomConnection(room_id=ROOM, user_id=2, name="S", role="student")
        await hub.join(student)
        student.open_with({"type": "room.snapshot"})
        await next_event(student)
        channel = f"room:{ROOM}"
        await bus.publish(channel, b'{"origin": "process-0", this is never decoded')
        other = {"origin": "process-1", "kind": "event", "to": {"everyone": True}}
        await bus.publish(channel, json.dumps({**other, "event": {"type": "x"}}).encode())
        assert await next_event(student) == {"type": "x"}  # published after ours: ours was read
        assert "bad bus message" not in caplog.text
    finally:
        await hub.close()
        await bus.close()
