"""RoomHub delivery by audience, on the in-process bus: no server, no sockets."""

from __future__ import annotations

import json
from typing import Any

from rooms.events import ROOM_AUDIENCE, STAFF_AUDIENCE, Outgoing, only
from server.bus.memory import InMemoryBus
from server.events.hub import RoomConnection, RoomHub
from server.events.presence import LocalPresence
from server.metrics import Metrics

ROOM = 7


def received(conn: RoomConnection) -> list[dict[str, Any]]:
    events = []
    while not conn.outbox.empty():
        event = conn.outbox.get_nowait()
        assert event is not None
        events.append(json.loads(event.text))
    return events


async def joined(hub: RoomHub, user_id: int, role: str) -> RoomConnection:
    conn = RoomConnection(room_id=ROOM, user_id=user_id, name=f"u{user_id}", role=role)
    await hub.join(conn)
    conn.open_with({"type": "room.snapshot"})
    return conn


async def test_publish_all_delivers_each_event_to_its_audience_in_order() -> None:
    hub = RoomHub(InMemoryBus(), LocalPresence(), Metrics())
    teacher = await joined(hub, 1, "instructor")
    alice = await joined(hub, 2, "student")
    bob = await joined(hub, 3, "student")
    for conn in (teacher, alice, bob):
        received(conn)  # the snapshot and the member.joined of later arrivals
    outgoing: list[Outgoing] = [
        (ROOM_AUDIENCE, {"type": "a"}),
        (STAFF_AUDIENCE, {"type": "b"}),
        (only(2), {"type": "c"}),
        (ROOM_AUDIENCE, {"type": "d"}),
    ]
    await hub.publish_all(ROOM, outgoing)
    assert [e["type"] for e in received(teacher)] == ["a", "b", "d"]
    assert [e["type"] for e in received(alice)] == ["a", "c", "d"]
    assert [e["type"] for e in received(bob)] == ["a", "d"]
    await hub.close()


async def test_an_event_is_encoded_once_as_it_was_when_published() -> None:
    hub = RoomHub(InMemoryBus(), LocalPresence(), Metrics())
    conns = [await joined(hub, user_id, "student") for user_id in (2, 3, 4)]
    for conn in conns:
        received(conn)
    event: dict[str, Any] = {"type": "demo.step", "step": 1}
    hub.deliver(ROOM, ROOM_AUDIENCE, event)
    event["step"] = 2  # changed after publishing: nobody gets the change
    queued = [conn.outbox.get_nowait() for conn in conns]
    assert queued[0] is not None and all(item is queued[0] for item in queued)  # one encoding
    assert json.loads(queued[0].text) == {"type": "demo.step", "step": 1}


async def test_with_one_process_events_are_delivered_without_the_bus() -> None:
    """On the in-process bus nobody else could hear an event: the hub neither listens on the
    room's channel nor publishes there, and still delivers everything, remote calls included."""
    bus = InMemoryBus()
    metrics = Metrics()
    hub = RoomHub(bus, LocalPresence(), metrics)
    calls: list[dict[str, Any]] = []

    async def remote(room_id: int, payload: dict[str, Any]) -> None:
        calls.append(payload)

    hub.on_remote("poke", remote)
    alice = await joined(hub, 2, "student")
    teacher = await joined(hub, 1, "instructor")
    assert await bus.subscriber_counts([f"room:{ROOM}"]) == {f"room:{ROOM}": 0}
    assert metrics.rooms_active._value.get() == 1
    received(alice)
    await hub.publish(ROOM, ROOM_AUDIENCE, {"type": "a"})
    await hub.send_remote(ROOM, "poke", {"n": 1})
    assert [e["type"] for e in received(alice)] == ["a"]
    assert calls == [{"n": 1}]
    await hub.leave(alice)
    assert [e["type"] for e in received(teacher)] == ["room.snapshot", "a", "member.left"]
    await hub.leave(teacher)
    assert metrics.rooms_active._value.get() == 0
    await hub.close()
