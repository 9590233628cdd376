"""DocumentRegistry with a real store and the in-process bus: one load per document, catch-up
of what was published during the load, unload after the grace period."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import uuid
from collections.abc import Callable, Sequence

import pycrdt
import pytest
import uvloop
from prometheus_client import CollectorRegistry

from rooms.awareness import AwarenessEntry, AwarenessLimits, decode_awareness, encode_awareness
from rooms.frames import awareness_frame, permission_denied_frame, update_frame
from rooms.presence import RENEWAL_HOLD
from rooms.varint import write_var_uint
from server.bus.memory import InMemoryBus
from server.documents import loaded
from server.documents import registry as registry_module
from server.documents.collector import collection_seconds
from server.documents.loaded import ORIGIN_BYTES, channel_of
from server.documents.metrics import DocMetrics
from server.documents.outbox import SocketOutbox
from server.documents.peers import HELLO, HERE
from server.documents.registry import DocumentRegistry, LimitReached, text_of
from server.documents.store import DocStore
from server.security.quotas import DocumentQuota, beyond_its_size
from server.store import Store, migrate
from tests.server.documents.test_store import a_room
from tests.support.updates import PANIC_CLOCK, text_insert

DATABASES = ("sqlite",)


class GatedDocStore(DocStore):
    """A real DocStore whose loads wait for a gate, so a test can act during a load."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, compact_after=100, batch_ms=0)
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.loads = 0

    async def load(self, room_id: int, doc: str) -> list[bytes]:
        self.loads += 1
        self.started.set()
        await self.gate.wait()
        return await super().load(room_id, doc)


class Outbox(SocketOutbox):
    """An outbox that keeps what it is given instead of sending it."""

    def __init__(self, conn_id: int) -> None:
        super().__init__(conn_id, DocMetrics(CollectorRegistry()), _unused_send, _unused_overflow)
        self.frames: list[bytes] = []
        self.arrived = asyncio.Event()

    def enqueue(self, frame: bytes, *_: object) -> None:
        """Keeps ``frame`` at once: what it waits for and how it is encoded do not matter."""
        self.frames.append(frame)
        self.arrived.set()


async def _unused_send(frame: bytes) -> None:
    raise AssertionError("a test outbox sends nothing")


async def _unused_overflow() -> None:
    raise AssertionError("a test outbox never overflows")


def registry_on(
    store: Store, bus: InMemoryBus, grace: float = 30.0, quota: DocumentQuota | None = None
) -> DocumentRegistry:
    return DocumentRegistry(
        GatedDocStore(store),
        bus,
        DocMetrics(CollectorRegistry()),
        unload_grace_seconds=grace,
        max_per_room=3,
        max_per_user=2,
        quota=quota,
    )


async def started(registry: DocumentRegistry) -> DocumentRegistry:
    """``registry`` started, its loads let through at once."""
    assert isinstance(registry.docstore, GatedDocStore)
    registry.docstore.gate.set()
    await registry.start()
    return registry


def typed(text: str) -> bytes:
    doc: pycrdt.Doc = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text).insert(0, text)
    return doc.get_update()


async def test_simultaneous_joins_share_one_load_and_get_what_was_published_meanwhile(
    store: Store,
) -> None:
    room = await a_room(store)
    bus = InMemoryBus()
    here = registry_on(store, bus)
    await here.start()
    try:
        docstore = here.docstore
        assert isinstance(docstore, GatedDocStore)
        joins = [asyncio.create_task(here.acquire(room, "demo")) for _ in range(20)]
        await asyncio.wait_for(docstore.started.wait(), 5)
        assert docstore.loads == 1

        # Another process publishes while this one is still loading; it is in no store,
        # so only a subscription made before the load can bring it.
        frame = update_frame(typed("published during the load"))
        await bus.publish(channel_of(room, "demo"), uuid.uuid4().bytes + frame)
        docstore.gate.set()
        docs = await asyncio.gather(*joins)
        assert all(doc is docs[0] for doc in docs)
        doc = docs[0]
        outbox = Outbox(7)
        doc.join(outbox, writable=True)
        outbox.arrived.clear()
        # The bus reader applies the queued message, before or after this join.
        if text_of(doc) != "published during the load":
            await asyncio.wait_for(outbox.arrived.wait(), 5)
        assert text_of(doc) == "published during the load"
        assert docstore.loads == 1
    finally:
        await here.close()


async def test_idle_document_unloads_after_grace_and_reloads(store: Store) -> None:
    room = await a_room(store)
    registry = registry_on(store, InMemoryBus(), grace=0.05)
    assert isinstance(registry.docstore, GatedDocStore)
    registry.docstore.gate.set()
    await registry.start()
    unloaded = asyncio.Event()
    registry.on_unload(lambda key: unloaded.set())
    try:
        doc = await registry.acquire(room, "demo")
        doc.join(Outbox(1), writable=True)
        doc.receive(1, update_frame(typed("kept")))
        doc.leave(1)
        registry.release(doc)
        await asyncio.wait_for(unloaded.wait(), 5)
        assert registry.loaded() == []
        again = await registry.acquire(room, "demo")
        assert again is not doc
        assert text_of(again) == "kept"
    finally:
        await registry.close()


async def test_a_stored_update_that_damages_the_document_is_left_out_of_its_load(
    store: Store,
) -> None:
    """Rule 6 at load: were the update applied, the copy would be damaged and every edit
    would reload it again; it is left out, and the rest of the document is served."""
    room = await a_room(store)
    registry = registry_on(store, InMemoryBus())
    assert isinstance(registry.docstore, GatedDocStore)
    registry.docstore.gate.set()
    await registry.start()
    try:
        hello = text_insert(77, 0, "hello world")
        later: pycrdt.Doc = pycrdt.Doc(client_id=78)
        later.apply_update(hello)
        before = later.get_state()
        later.get("text", type=pycrdt.Text).insert(11, "!")
        breaking = text_insert(77, PANIC_CLOCK, "x")  # yrs panics inside this change
        await registry.docstore.append(room, "demo", [hello, breaking, later.get_update(before)])
        doc = await registry.acquire(room, "demo")
        assert text_of(doc) == "hello world!" and not doc.sync.damaged
        doc.join(Outbox(1), writable=True)
        doc.receive(1, update_frame(text_insert(5, 0, ">> ")))  # id 5 sorts before 77
        assert text_of(doc) == ">> hello world!"
        assert registry.loaded() == [(room, "demo")]
    finally:
        await registry.close()


def test_admission_limits() -> None:
    registry = registry_on(Store("sqlite://"), InMemoryBus())
    registry.admit(1, 10)
    registry.admit(1, 10)
    with pytest.raises(LimitReached, match="you have 2"):
        registry.admit(1, 10)
    registry.admit(1, 11)
    with pytest.raises(LimitReached, match="room 1"):
        registry.admit(1, 12)
    registry.dismiss(1, 10)
    registry.admit(1, 12)


def test_staff_are_bounded_by_the_room_limit_only(store: Store) -> None:
    registry = registry_on(store, InMemoryBus())
    registry.admit(1, 10)
    registry.admit(1, 10)
    with pytest.raises(LimitReached, match="you have 2"):
        registry.admit(1, 10)
    # An instructor watching the class: more sockets than a student may hold, up to the room's.
    registry.admit(1, 99, staff=True)
    with pytest.raises(LimitReached, match="room 1"):
        registry.admit(1, 99, staff=True)
    registry.dismiss(1, 10)
    registry.admit(2, 99, staff=True)
    registry.admit(2, 99, staff=True)
    registry.admit(2, 99, staff=True)


class CountingBus(InMemoryBus):
    """The in-process bus, told whether it spans processes, counting what is published."""

    def __init__(self, spans_processes: bool) -> None:
        super().__init__()
        self.spans_processes = spans_processes
        self.published: list[str] = []
        self.batches: list[int] = []
        self.got = asyncio.Event()

    async def publish(self, channel: str, message: bytes) -> None:
        self.published.append(channel)
        self.got.set()
        await super().publish(channel, message)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self.batches.append(len(messages))
        await super().publish_many(messages)


@pytest.mark.parametrize(
    ("spans", "peer"),
    [(False, False), (True, False), (True, True)],
    ids=["one-process", "many-processes-alone", "many-processes-shared"],
)
async def test_document_frames_are_published_only_where_other_processes_listen(
    store: Store, spans: bool, peer: bool
) -> None:
    room = await a_room(store)
    bus = CountingBus(spans)
    registry = registry_on(store, bus)
    other = registry_on(store, bus)  # another process on the same bus
    for each in (registry, other):
        assert isinstance(each.docstore, GatedDocStore)
        each.docstore.gate.set()
        await each.start()
    try:
        doc = await registry.acquire(room, "demo")
        writer, reader = Outbox(1), Outbox(2)
        doc.join(writer, writable=True)
        doc.join(reader, writable=True)
        if peer:
            there = await other.acquire(room, "demo")
            watcher = Outbox(3)
            there.join(watcher, writable=False)
            while not doc.peers.origins:  # the HELLO heard, the whole state published back
                reader.arrived.clear()
                await asyncio.wait_for(reader.arrived.wait(), 5)
        reader.arrived.clear()
        bus.published.clear()
        bus.got.clear()
        doc.receive(1, update_frame(typed("hi")))
        await asyncio.wait_for(reader.arrived.wait(), 5)
        if peer:
            await asyncio.wait_for(bus.got.wait(), 5)
            assert bus.published == [channel_of(room, "demo")]
            while text_of(there) != "hi":
                watcher.arrived.clear()
                await asyncio.wait_for(watcher.arrived.wait(), 5)
        else:
            # dispatch queues a publication synchronously, or never.
            assert registry.publisher.queued == 0
            assert bus.published == []
        assert text_of(doc) == "hi"
    finally:
        await registry.close()
        await other.close()


async def test_frames_queued_in_one_turn_are_published_together_in_order(store: Store) -> None:
    room = await a_room(store)
    bus = CountingBus(spans_processes=True)
    registry = registry_on(store, bus)
    assert isinstance(registry.docstore, GatedDocStore)
    registry.docstore.gate.set()
    await registry.start()
    try:
        listener = aiter(await bus.subscribe(channel_of(room, "demo")))  # another process
        doc = await registry.acquire(room, "demo")
        assert (await asyncio.wait_for(anext(listener), 5))[ORIGIN_BYTES:] == HELLO
        await bus.publish(channel_of(room, "demo"), uuid.uuid4().bytes + HELLO)
        while (await asyncio.wait_for(anext(listener), 5))[ORIGIN_BYTES:] != HERE:
            pass  # our HELLO, then the document's whole state, then its HERE
        bus.batches.clear()
        doc.join(Outbox(1), writable=True)
        client: pycrdt.Doc = pycrdt.Doc()
        text = client.get("text", type=pycrdt.Text)
        updates = []
        for word in ("one ", "two ", "three"):
            before = client.get_state()
            text += word
            updates.append(client.get_update(before))
        for update in updates:  # one turn of the loop, as frames read in one go
            doc.receive(1, update_frame(update))
        got = [await asyncio.wait_for(anext(listener), 5) for _ in updates]
        assert bus.batches == [3]
        # In order: each applied alone to a fresh document rebuilds the text step by step.
        rebuilt: pycrdt.Doc = pycrdt.Doc()
        seen = []
        for message in got:
            frame = message[ORIGIN_BYTES:]
            assert frame == update_frame(updates[len(seen)])
            rebuilt.apply_update(updates[len(seen)])
            seen.append(str(rebuilt.get("text", type=pycrdt.Text)))
        assert seen == ["one ", "one two ", "one two three"]
        assert text_of(doc) == "one two three"
    finally:
        await registry.close()


async def limited_registry(store: Store) -> DocumentRegistry:
    """A started registry whose connections may pass on 10 awareness changes a second,
    one at once (rooms/sync.py rule 7)."""
    registry = registry_on(store, InMemoryBus())
    registry.awareness_limits = AwarenessLimits(rate=10.0, burst=1.0)
    assert isinstance(registry.docstore, GatedDocStore)
    registry.docstore.gate.set()
    await registry.start()
    return registry


async def test_a_coalesced_state_is_not_held_back_behind_waiting_renewals(store: Store) -> None:
    """Held renewals set the document's flush timer RENEWAL_HOLD (5 s) ahead; a state then
    coalesced for a fast connection is due sooner, and the timer is brought forward for it."""
    room = await a_room(store)
    registry = await limited_registry(store)
    try:
        doc = await registry.acquire(room, "demo")
        now = [0.0]
        doc.sync.clock = lambda: now[0]
        alice, bob, watcher = Outbox(1), Outbox(2), Outbox(3)
        for outbox in (alice, bob, watcher):
            doc.join(outbox, writable=True)

        def state(client: int, clock: int, value: str) -> bytes:
            return awareness_frame(encode_awareness([AwarenessEntry(client, clock, value)]))

        doc.receive(1, state(5, 1, '{"a":1}'))  # a first state goes at once
        now[0] = 0.1  # Alice's budget has a frame again (a renewal takes from it too)
        doc.receive(1, state(5, 2, '{"a":1}'))  # a renewal waits
        assert doc.flush_timer is not None
        assert doc.flush_due > asyncio.get_running_loop().time() + RENEWAL_HOLD - 1
        doc.receive(2, state(6, 1, '{"b":1}'))  # Bob's first: at once, his burst is spent
        watcher.frames.clear()
        watcher.arrived.clear()
        doc.receive(2, state(6, 2, '{"b":2}'))  # a change faster than his rate: coalesced
        now[0] = 0.2  # his budget's next frame, when the brought-forward timer fires
        await asyncio.wait_for(watcher.arrived.wait(), RENEWAL_HOLD / 2)
        [frame] = watcher.frames
        assert decode_awareness(frame[2:]) == [AwarenessEntry(6, 2, '{"b":2}')]
        # The renewal still goes out when its time comes, and the timer is set for it again.
        assert doc.flush_timer is not None
        now[0] = 0.1 + RENEWAL_HOLD  # what the sync's clock says when the timer fires
        watcher.arrived.clear()
        await asyncio.wait_for(watcher.arrived.wait(), RENEWAL_HOLD + 2)
        assert decode_awareness(watcher.frames[-1][2:]) == [AwarenessEntry(5, 2, '{"a":1}')]
    finally:
        await registry.close()


@pytest.mark.parametrize(
    "new_loop", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_a_flush_due_at_once_can_be_asked_for_again(
    database_url: str, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    """A coalesced state due in under half a millisecond: uvloop (the server's loop) schedules
    it as a plain Handle, which has no when(); a second change before it runs must not fail.
    (CI, under load: AttributeError in a document socket, and the change was never sent.)"""

    async def scenario() -> None:
        await asyncio.to_thread(migrate, database_url)
        store = Store(database_url)
        room = await a_room(store)
        registry = await limited_registry(store)
        try:
            doc = await registry.acquire(room, "demo")
            now = [0.0]
            doc.sync.clock = lambda: now[0]
            bob, watcher = Outbox(2), Outbox(3)
            doc.join(bob, writable=True)
            doc.join(watcher, writable=True)

            def state(clock: int, value: str) -> bytes:
                return awareness_frame(encode_awareness([AwarenessEntry(6, clock, value)]))

            doc.receive(2, state(1, '{"b":1}'))  # at once: the burst is spent
            now[0] = 0.09999  # the budget is 0.0001 s short of a frame: coalesced, due at once
            doc.receive(2, state(2, '{"b":2}'))
            assert doc.flush_timer is not None
            doc.receive(2, state(3, '{"b":3}'))  # coalesced with it, before the flush runs
            now[0] = 0.2
            watcher.frames.clear()
            watcher.arrived.clear()
            await asyncio.wait_for(watcher.arrived.wait(), 5)
            assert [decode_awareness(f[2:]) for f in watcher.frames] == [
                [AwarenessEntry(6, 3, '{"b":3}')]
            ]
        finally:
            await registry.close()
            await store.close()

    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(scenario())


async def test_the_bus_reader_lets_others_go_between_a_burst_of_frames(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue holding messages hands them over without a turn of the loop: an update's
    pieces (rooms/pieces.py) published by another process came back to back. Past
    ``BUS_TURN`` of work the reader lets the loop run (here: after every frame)."""
    monkeypatch.setattr(loaded, "BUS_TURN", 0.0)
    room = await a_room(store)
    bus = InMemoryBus()
    registry = await started(registry_on(store, bus))
    try:
        doc = await registry.acquire(room, "demo")
        outbox = Outbox(1)
        doc.join(outbox, writable=True)
        outbox.frames.clear()
        elsewhere = uuid.uuid4().bytes
        frames = [update_frame(typed(f"piece {i} ")) for i in range(20)]
        await bus.publish_many([(channel_of(room, "demo"), elsewhere + f) for f in frames])
        seen: list[int] = []
        while len(outbox.frames) < len(frames):
            seen.append(len(outbox.frames))
            outbox.arrived.clear()
            await asyncio.wait_for(outbox.arrived.wait(), 5)
        assert len(set(seen)) > 2, seen  # the test ran between frames of the burst
        assert all(f"piece {i} " in text_of(doc) for i in range(20))
    finally:
        await registry.close()


async def test_a_slow_load_is_logged_as_a_warning_with_its_time(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Building a document runs on the event loop: each load says how long it took, and one
    past ``SLOW_LOAD_SECONDS`` is a warning, so an operator finds the file that holds
    every room of the process at each load."""
    room = await a_room(store)
    registry = await started(registry_on(store, InMemoryBus()))
    try:
        caplog.set_level(logging.INFO, logger="classroom.docs")
        registry.release(await registry.acquire(room, "demo"))
        loads = [r for r in caplog.records if r.getMessage().startswith("loaded room")]
        assert [r.levelno for r in loads] == [logging.INFO]
        assert re.search(r"\(0 stored updates, 0 bytes\) in \d+ ms$", loads[0].getMessage())
        monkeypatch.setattr(registry_module, "SLOW_LOAD_SECONDS", 0.0)
        registry.release(await registry.acquire(room, "other"))
        loads = [r for r in caplog.records if r.getMessage().startswith("loaded room")]
        assert [r.levelno for r in loads] == [logging.INFO, logging.WARNING]
    finally:
        await registry.close()


def right_origin_only(client: int, right: tuple[int, int], count: int) -> bytes:
    """``count`` characters of ``client`` in the root text, each with only a right origin:
    yrs places each by scanning the text from its start to ``right``."""
    item = b"\x44" + write_var_uint(right[0]) + write_var_uint(right[1]) + b"\x01z"
    return (
        write_var_uint(1)
        + write_var_uint(count)
        + write_var_uint(client)
        + b"\x00"
        + item * count
        + b"\x00"
    )


async def test_a_document_too_costly_to_load_becomes_read_only(store: Store) -> None:
    """server/security/quotas.py rule 3: updates whose structs cost yrs far more than their
    size accounts for count towards the document's load; past ``max_doc_load_seconds`` every
    writer is told it may not write and nothing more is applied (a typed character never
    counts)."""
    room = await a_room(store)
    quota = DocumentQuota(max_doc_load_seconds=0.02)
    registry = await started(registry_on(store, InMemoryBus(), quota=quota))
    try:
        doc = await registry.acquire(room, "demo")
        writer, reader = Outbox(1), Outbox(2)
        doc.join(writer, writable=True)
        doc.join(reader, writable=True)
        doc.receive(1, update_frame(typed("fine so far")))
        assert not doc.sync.read_only and doc.load_cost < 0.02
        # Text written by two alternating client ids: 16,000 blocks (as the store has them).
        previous = None
        for i in range(16_000):
            client, clock = 7 + i % 2, i // 2
            if previous is None:
                body = b"\x04\x01\x04text\x01a"
            else:
                body = (
                    b"\x84" + write_var_uint(previous[0]) + write_var_uint(previous[1]) + b"\x01b"
                )
            head = write_var_uint(1) + write_var_uint(1) + write_var_uint(client)
            doc.sync.apply_stored(head + write_var_uint(clock) + body + b"\x00")
            previous = (client, clock)
        assert previous is not None
        doc.receive(1, update_frame(right_origin_only(9, previous, 256)), cut=False)
        assert doc.sync.read_only and doc.load_cost > 0.02
        writer.frames.clear()
        doc.receive(1, update_frame(typed("more")))
        assert writer.frames == [permission_denied_frame()]
        assert "more" not in text_of(doc)
    finally:
        await registry.close()


def test_an_update_costs_the_load_only_beyond_its_size() -> None:
    assert beyond_its_size(0.0001, 1, 30) == 0.0  # a typed character
    assert beyond_its_size(0.010, 1, 1_000_000) == 0.0  # a 1 MB paste in 10 ms
    assert beyond_its_size(0.004, 64, 5_000) == 0.0  # a piece of a reconnecting client's edits
    assert abs(beyond_its_size(0.150, 64, 600) - (0.150 - 64 * 0.0002 - 600 * 2e-8)) < 1e-12
    quota = DocumentQuota()
    assert not quota.over_load(1.0) and quota.over_load(1.01)
    assert not DocumentQuota(max_doc_load_seconds=0).over_load(100.0)


def test_the_collectors_time_is_counted_apart() -> None:
    """What quotas.py rule 3 subtracts from an update's time: a collection that ran inside
    it is not the update's."""
    before = collection_seconds()
    kept = [[i] for i in range(200_000)]
    gc.collect()
    assert collection_seconds() > before and len(kept) == 200_000
