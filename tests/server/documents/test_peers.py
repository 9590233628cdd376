"""A document's frames go to the bus only while another process holds it (peers.py): two
registries, each with its own RedisBus and DocStore on one database, as two processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pycrdt
import pytest
from prometheus_client import CollectorRegistry

from rooms.exceptions import ProtocolError
from rooms.frames import update_frame
from server.bus.redis import RedisBus, RedisSubscription
from server.documents.loaded import ORIGIN_BYTES, LoadedDocument, channel_of
from server.documents.metrics import DocMetrics
from server.documents.peers import BYE, HELLO, HERE, Peers, forget_departed
from server.documents.registry import DocumentRegistry, text_of
from server.documents.source import Sources
from server.documents.store import DocStore
from server.store import Store
from tests.server.documents.test_registry import Outbox
from tests.server.documents.test_store import a_room
from tests.services import REDIS_URL, require

DATABASES = ("sqlite", "postgres")
pytestmark = pytest.mark.redis


class HeldBus(RedisBus):
    """A RedisBus whose document readers can be held before a given peer frame, as a busy
    process is slow to read it."""

    def __init__(self, url: str, *, prefix: str) -> None:
        super().__init__(url, prefix=prefix)
        self.hold: Callable[[bytes], bool] = lambda message: False
        self.held = asyncio.Event()  # a reader reached the frame
        self.gate = asyncio.Event()
        # Frames its readers never get, as if published while this process's connection to
        # the broker was down.
        self.lose: Callable[[bytes], bool] = lambda message: False
        self.lost = asyncio.Event()

    async def subscribe(self, channel: str) -> Any:
        return Held(await super().subscribe(channel), self)


class Held:
    def __init__(self, inner: RedisSubscription, bus: HeldBus) -> None:
        self.inner = inner
        self.channel = inner.channel
        self.bus = bus

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for message in self.inner:
            if self.bus.lose(message):
                self.bus.lost.set()
                continue
            if self.bus.hold(message):
                self.bus.held.set()
                await self.bus.gate.wait()
            yield message

    async def close(self) -> None:
        await self.inner.close()


class GatedStore(DocStore):
    """A document store whose next load waits at a gate, as a load in flight."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, batch_ms=0)
        self.gate: asyncio.Event | None = None
        self.loading = asyncio.Event()

    async def load(self, room_id: int, doc: str) -> list[bytes]:
        gate, self.gate = self.gate, None
        if gate is not None:
            self.loading.set()
            await gate.wait()
        return await super().load(room_id, doc)


class Process:
    """A registry on a bus of its own, as one server process holds them."""

    def __init__(self, store: Store, prefix: str) -> None:
        self.bus = HeldBus(REDIS_URL, prefix=prefix)
        self.docstore = GatedStore(store)
        self.registry = DocumentRegistry(self.docstore, self.bus, DocMetrics(CollectorRegistry()))

    async def start(self) -> None:
        await self.bus.start()
        await self.registry.start()

    async def close(self) -> None:
        await self.registry.close()
        await self.bus.close()


@pytest.fixture
async def two(store: Store) -> AsyncIterator[tuple[Process, Process]]:
    require("redis")
    prefix = f"test-peers-{uuid.uuid4().hex}:"  # no other test hears these channels
    one, other = Process(store, prefix), Process(store, prefix)
    await one.start()
    await other.start()
    try:
        yield one, other
    finally:
        await asyncio.gather(one.close(), other.close())


class Typist:
    """A client of one loaded document, typing at its end."""

    def __init__(self, doc: LoadedDocument, conn_id: int) -> None:
        self.doc = doc
        self.conn_id = conn_id
        self.outbox = Outbox(conn_id)
        self.client: pycrdt.Doc = pycrdt.Doc()
        self.text = self.client.get("text", type=pycrdt.Text)
        doc.join(self.outbox, writable=True)

    def type(self, chars: str) -> None:
        before = self.client.get_state()
        self.text += chars
        self.doc.receive(self.conn_id, update_frame(self.client.get_update(before)))

    async def until(self, done: Callable[[], bool]) -> None:
        """Wait until ``done()`` holds, checking each time a frame reaches this client."""
        async with asyncio.timeout(10):
            while not done():
                self.outbox.arrived.clear()
                if done():
                    return
                await self.outbox.arrived.wait()


async def alice_on(
    process: Process, store: Store, name: str = "demo"
) -> tuple[int, LoadedDocument, Typist]:
    """A new room, its document ``name`` loaded in ``process``, and Alice typing into it."""
    room = await a_room(store)
    doc = await process.registry.acquire(room, name)
    return room, doc, Typist(doc, 1)


async def stored(doc: LoadedDocument) -> None:
    """Wait until what ``doc``'s clients were sent is stored, as it is before others see it."""
    if doc.barrier is not None:
        await doc.barrier


async def test_a_document_held_by_one_process_publishes_nothing_but_its_hello(
    store: Store, two: tuple[Process, Process]
) -> None:
    one, _ = two
    room = await a_room(store)
    listener = RedisBus(REDIS_URL, prefix=one.bus.prefix)
    await listener.start()
    try:
        heard = aiter(await listener.subscribe(channel_of(room, "demo")))
        doc = await one.registry.acquire(room, "demo")
        assert (await asyncio.wait_for(anext(heard), 5))[ORIGIN_BYTES:] == HELLO
        typist = Typist(doc, 1)
        typist.type("nobody else holds this")
        # dispatch queues a publication synchronously, or never.
        assert one.registry.publisher.queued == 0
        assert doc.peers.origins == set()
        assert one.registry.shared() == 0
        await listener.publish(channel_of(room, "demo"), b"\x00" * ORIGIN_BYTES + BYE)
        # The next message is the one just published: nothing of the typing went out.
        assert (await asyncio.wait_for(anext(heard), 5))[ORIGIN_BYTES:] == BYE
        assert text_of(doc) == "nobody else holds this"
    finally:
        await listener.close()


async def test_a_second_holder_gets_everything_and_both_publish_until_one_leaves(
    store: Store, two: tuple[Process, Process]
) -> None:
    one, other = two
    room, first, alice = await alice_on(one, store)
    alice.type("typed alone. ")
    second = await other.registry.acquire(room, "demo")
    bob = Typist(second, 2)
    await bob.until(lambda: text_of(second) == "typed alone. ")
    # Each knows the other once the HELLO was answered.
    await alice.until(lambda: first.peers.origins == {second.origin})
    assert second.peers.origins == {first.origin}
    assert one.registry.shared() == other.registry.shared() == 1
    alice.type("from one. ")
    bob.type("from the other. ")
    await alice.until(lambda: len(text_of(first)) == len("typed alone. from one. from the other. "))
    await bob.until(lambda: text_of(second) == text_of(first))

    # The second process lets the document go: it says BYE, and the first stops publishing.
    other.registry.unload_grace_seconds = 0
    unloaded = asyncio.Event()
    other.registry.on_unload(lambda key: unloaded.set())
    second.leave(2)
    other.registry.release(second)
    await asyncio.wait_for(unloaded.wait(), 5)
    marker = pycrdt.Doc()
    marker.get("other", type=pycrdt.Text).insert(0, "after the bye")
    # Frames on the channel arrive in order: once this one reached Alice, so had the BYE.
    stranger = uuid.uuid4().bytes
    await other.bus.publish(channel_of(room, "demo"), stranger + update_frame(marker.get_update()))
    await alice.until(lambda: first.sync.text("other") == "after the bye")
    # Gone: the second process. A frame from an origin it did not know makes it a peer (rule
    # 8), until the check finds nobody else on the channel.
    assert first.peers.origins == {stranger}
    assert await forget_departed(one.bus, [first]) == 1
    alice.type("alone again")
    assert one.registry.publisher.queued == 0


async def test_what_the_holder_stored_before_it_heard_the_hello_comes_in_its_whole_state(
    store: Store, two: tuple[Process, Process]
) -> None:
    """peers.py rule 2: the newcomer read the store, and the holder, slow to read its bus,
    stores and shows an update before it hears the HELLO."""
    one, other = two
    room, first, alice = await alice_on(one, store)
    alice.type("before. ")
    await stored(first)
    one.bus.hold = lambda message: message[ORIGIN_BYTES:] == HELLO
    second = await other.registry.acquire(room, "demo")
    bob = Typist(second, 2)
    await asyncio.wait_for(one.bus.held.wait(), 5)
    assert text_of(second) == "before. "
    alice.type("in the window. ")
    assert one.registry.publisher.queued == 0  # nobody known to tell
    one.bus.gate.set()
    await bob.until(lambda: text_of(second) == "before. in the window. ")


async def test_what_the_newcomer_stored_before_it_heard_of_the_holder_comes_in_its_whole_state(
    store: Store, two: tuple[Process, Process]
) -> None:
    """peers.py rules 3 and 8: the newcomer's client types before it hears from the holder
    (its whole state, then HERE)."""
    one, other = two
    room, first, alice = await alice_on(one, store)
    other.bus.hold = lambda message: message[:ORIGIN_BYTES] == first.origin
    second = await other.registry.acquire(room, "demo")
    bob = Typist(second, 2)
    await asyncio.wait_for(other.bus.held.wait(), 5)
    bob.type("before the here. ")
    assert other.registry.publisher.queued == 0
    other.bus.gate.set()
    await alice.until(lambda: text_of(first) == "before the here. ")
    bob.type("after.")
    await alice.until(lambda: text_of(first) == "before the here. after.")


async def test_processes_loading_documents_others_are_typing_into_miss_nothing(
    store: Store, two: tuple[Process, Process]
) -> None:
    one, other = two
    room = await a_room(store)
    names = [f"doc{n}" for n in range(8)]
    typists = [Typist(await one.registry.acquire(room, name), n) for n, name in enumerate(names)]

    async def type_on(typist: Typist) -> None:
        for n in range(60):
            typist.type(f"{n},")
            await asyncio.sleep(0)  # one keystroke per turn of the loop, as frames arrive

    async def load_midway(name: str, after: int) -> LoadedDocument:
        for _ in range(after):
            await asyncio.sleep(0)
        return await other.registry.acquire(room, name)

    typing = [asyncio.create_task(type_on(typist)) for typist in typists]
    loaded = await asyncio.gather(*(load_midway(name, 4 * n) for n, name in enumerate(names)))
    await asyncio.gather(*typing)
    full = "".join(f"{n}," for n in range(60))
    for n, doc in enumerate(loaded):
        reader = Typist(doc, 100 + n)
        await reader.until(lambda doc=doc: text_of(doc) == full)  # type: ignore[misc]
        reader.type("!")  # from a client that has none of it: "!" goes at one end or the other
        holder = typists[n]
        await holder.until(lambda h=holder: sorted(text_of(h.doc)) == sorted(full + "!"))  # type: ignore[misc]


async def test_a_peer_that_died_without_a_bye_is_forgotten_by_the_check(
    store: Store, two: tuple[Process, Process]
) -> None:
    one, other = two
    room, first, alice = await alice_on(one, store)
    await other.registry.acquire(room, "demo")
    await alice.until(lambda: bool(first.peers.origins))
    # Still there: the check keeps it.
    assert await forget_departed(one.bus, [first]) == 0
    assert first.peers.origins
    # Its connection goes without a word (a process killed): Redis unsubscribes it once it
    # has seen the connection close, which a command on another connection may overtake.
    await other.bus.close()

    async def unsubscribed() -> None:
        while (await one.bus.subscriber_counts([first.channel])).get(first.channel, 0) > 1:
            pass  # each round trip yields to the loop; Redis drops it within milliseconds

    await asyncio.wait_for(unsubscribed(), 5)
    assert await forget_departed(one.bus, [first]) == 1
    assert first.peers.origins == set()
    alice.type("nobody to tell")
    assert one.registry.publisher.queued == 0


async def test_a_hello_lost_during_an_outage_is_said_again_once_the_load_is_done(
    store: Store, two: tuple[Process, Process]
) -> None:
    """peers.py rule 7 for a load in flight: its HELLO went out while the broker was away, so
    the resync after the outage waits for the load and says it again. Otherwise neither process
    would know of the other, and each would keep its clients' edits to itself."""
    one, other = two
    room, first, alice = await alice_on(one, store)
    alice.type("before. ")
    await stored(first)
    one.bus.lose = lambda message: message[ORIGIN_BYTES:] == HELLO
    gate = other.docstore.gate = asyncio.Event()
    loading = asyncio.create_task(other.registry.acquire(room, "demo"))
    await asyncio.wait_for(other.docstore.loading.wait(), 5)  # HELLO said, store not yet read
    await asyncio.wait_for(one.bus.lost.wait(), 5)
    one.bus.lose = lambda message: False
    # The bus is back: its resync runs while the load is still in flight (the gate opens on
    # the next turn of the loop, once the resync has reached the loading document).
    asyncio.get_running_loop().call_soon(gate.set)
    await asyncio.wait_for(other.registry.resync(), 5)
    second = await loading
    bob = Typist(second, 2)
    await alice.until(lambda: bool(first.peers.origins))
    alice.type("after.")
    await bob.until(lambda: text_of(second) == "before. after.")
    bob.type(" Bob.")  # into Bob's own empty copy: where it lands among the rest may vary
    await alice.until(lambda: sorted(text_of(first)) == sorted("before. after. Bob."))


def test_a_check_overtaken_by_a_hello_forgets_nobody() -> None:
    peers = Peers()
    assert peers.hear(b"a" * ORIGIN_BYTES, HELLO).answer
    heard = peers.heard  # the check asks now, and a newcomer says HELLO before the reply
    assert peers.hear(b"b" * ORIGIN_BYTES, HELLO).share
    assert not peers.forget(heard)
    assert peers.origins == {b"a" * ORIGIN_BYTES, b"b" * ORIGIN_BYTES}
    assert peers.forget(peers.heard)
    assert peers.origins == set()
    # HERE from a known peer changes nothing; from a new one, we share our state.
    assert peers.hear(b"a" * ORIGIN_BYTES, HERE).share
    assert not peers.hear(b"a" * ORIGIN_BYTES, HERE).share
    with pytest.raises(ProtocolError):
        peers.hear(b"a" * ORIGIN_BYTES, bytes((HELLO[0], 9)))


async def test_a_run_on_another_process_reads_the_stored_text_without_becoming_a_peer(
    store: Store, two: tuple[Process, Process]
) -> None:
    """A student's run arrives on the process of the room's events socket, which is not
    where the load balancer put the document's sockets."""
    one, other = two
    room, first, alice = await alice_on(one, store, "students/7/main.py")
    alice.type("print('hi')")
    await stored(first)
    sources = Sources(store, other.registry)
    assert await sources.read_text(room, "students/7/main.py") == "print('hi')"
    assert not other.registry.holds(room, "students/7/main.py")
    assert first.peers.origins == set()
    # Where the process holds the document, its copy is read.
    second = await other.registry.acquire(room, "students/7/main.py")
    second.sync.replace_text("text", "only in memory here")
    assert await sources.read_text(room, "students/7/main.py") == "only in memory here"


async def test_a_server_of_an_earlier_version_that_says_no_hello_is_met_by_its_frames(
    store: Store, two: tuple[Process, Process]
) -> None:
    """During a rolling upgrade an older process holds the document too: it publishes every
    frame (with its process's origin) and knows nothing of HELLO."""
    one, _ = two
    room, first, alice = await alice_on(one, store)
    alice.type("new. ")
    await stored(first)
    older = RedisBus(REDIS_URL, prefix=one.bus.prefix)
    await older.start()
    try:
        heard = aiter(await older.subscribe(channel_of(room, "demo")))
        theirs: pycrdt.Doc = pycrdt.Doc()
        theirs.get("text", type=pycrdt.Text).insert(0, "old. ")
        origin = uuid.uuid4().bytes
        await older.publish(channel_of(room, "demo"), origin + update_frame(theirs.get_update()))
        assert (await asyncio.wait_for(anext(heard), 5))[:ORIGIN_BYTES] == origin  # its own
        await alice.until(lambda: "old. " in text_of(first))
        assert first.peers.origins == {origin}
        # The newer process sends it its whole state, then every frame.
        whole = await asyncio.wait_for(anext(heard), 5)
        assert whole[:ORIGIN_BYTES] == first.origin
        rebuilt: pycrdt.Doc = pycrdt.Doc()
        frame = whole[ORIGIN_BYTES:]
        assert frame[:2] == b"\x00\x02"  # a sync update, as the older version reads them
        assert frame == update_frame(first.sync.doc.get_update())
        alice.type("more.")
        update = await asyncio.wait_for(anext(heard), 5)
        assert update[:ORIGIN_BYTES] == first.origin
        rebuilt.apply_update(first.sync.doc.get_update())
        assert "more." in str(rebuilt.get("text", type=pycrdt.Text))
    finally:
        await older.close()
