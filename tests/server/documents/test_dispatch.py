"""LoadedDocument.dispatch: a broadcast reaches every socket of the document open at that
moment but the one it came from, sent from the document's list of outboxes
(rooms/sync_output.py ``Output.group``), and counted once per recipient."""

from __future__ import annotations

from rooms.frames import update_frame
from server.bus.memory import InMemoryBus
from server.store import Store
from tests.server.documents.test_registry import Outbox, registry_on, started, typed
from tests.server.documents.test_store import a_room

DATABASES = ("sqlite",)


async def test_a_broadcast_reaches_the_sockets_open_now_but_its_sender(store: Store) -> None:
    room = await a_room(store)
    registry = await started(registry_on(store, InMemoryBus()))
    try:
        doc = await registry.acquire(room, "demo")
        a, b, c = Outbox(1), Outbox(2), Outbox(3)
        for outbox in (a, b, c):
            doc.join(outbox, writable=True)
        for outbox in (a, b, c):
            outbox.frames.clear()
        counted = registry.metrics.updates_out.value

        first = update_frame(typed("one"))
        doc.receive(1, first)
        assert (a.frames, b.frames, c.frames) == ([], [first], [first])
        assert registry.metrics.updates_out.value == counted + 2

        # d joins; then c leaves (its outbox left open: only its leaving keeps frames from it).
        d = Outbox(4)
        doc.join(d, writable=True)
        d.frames.clear()
        second = update_frame(typed("two"))
        doc.receive(2, second)
        assert (a.frames, b.frames, c.frames, d.frames) == (
            [second],
            [first],
            [first, second],
            [second],
        )
        doc.leave(3)
        third = update_frame(typed("three"))
        doc.receive(1, third)
        assert (b.frames, c.frames, d.frames) == ([first, third], [first, second], [second, third])
        assert registry.metrics.updates_out.value == counted + 7

        # Alone in the document: nobody to send to, nothing counted.
        doc.leave(2)
        doc.leave(4)
        doc.receive(1, update_frame(typed("four")))
        assert a.frames == [second]
        assert registry.metrics.updates_out.value == counted + 7
    finally:
        await registry.close()
