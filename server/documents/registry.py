"""The documents loaded in this process: load once, share, fan out, unload when idle.

Design note.

Rule 1 — one load per document. The first connection to a document creates its entry and
a load task; every connection that arrives meanwhile awaits the same task, then joins. A
join is synchronous (no await between "loaded" and "connected"), so each newcomer gets a
step1 and the awareness states of one consistent document.

Rule 2 — subscribe, then load, then apply both. The bus subscription is made before the
store is read, so an update published by another process while we load is queued, and
applied after the stored ones. Yjs updates are idempotent and commute, so seeing one twice
or out of order is harmless.

Rule 3 — stored before shown. Updates from local clients go to the :class:`DocStore`; every
frame produced after them (to sockets or to the bus) waits for that commit (the
"barrier"), so nothing broadcast is ever missing after a crash.

Rule 4 — publish only to other processes: a document's frames go to the bus only while
another process holds it too (server/documents/peers.py), so never on one server.

Rule 5 — resync after a bus outage: reload from the store (other processes stored what we
missed), send local clients the difference, say HELLO and publish our whole state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from rooms.awareness import AwarenessLimits
from rooms.documents import DocumentName
from rooms.exceptions import ProtocolError
from rooms.integrity.replay import TextMeter
from rooms.sync import DocumentSync, Output
from server.bus import Bus, Subscription
from server.bus.publisher import Publisher
from server.documents.metrics import DocMetrics
from server.documents.peers import (
    BYE,
    HELLO,
    HERE,
    PEER_CHECK_SECONDS,
    Peers,
    forget_departed,
    is_peer_frame,
)
from server.documents.store import DocKey, DocStore
from server.security.quotas import DocumentQuota, QuotaExceeded, is_update_frame

log = logging.getLogger("classroom.docs")

ORIGIN_BYTES = 16


class Outbox(Protocol):
    """Where frames for one local connection go (the socket's sender drains it)."""

    conn_id: int

    def enqueue(self, frame: bytes, barrier: asyncio.Future[None] | None, since: float) -> None: ...


class LimitReached(Exception):
    """Too many connections for a room or a user; the message says which."""


def channel_of(room_id: int, doc: str) -> str:
    return f"doc:{room_id}:{doc}"


class LoadedDocument:
    """One document in memory, its local connections and its bus subscription."""

    def __init__(self, registry: DocumentRegistry, room_id: int, name: str) -> None:
        self.registry = registry
        self.room_id = room_id
        self.name = name
        self.channel = channel_of(room_id, name)
        # What this loaded copy's messages on the bus are known by, and the other copies.
        self.origin = uuid.uuid4().bytes
        self.peers = Peers()
        self.sync = DocumentSync(limits=registry.awareness_limits)
        # uvloop's call_later(0) returns a plain Handle, which has no when(): the due time is ours.
        self.flush_timer: asyncio.Handle | None = None
        self.flush_due = 0.0  # the loop's time flush_timer fires at
        self.size = 0  # bytes stored at load plus bytes received since (quotas.py rule 2)
        # Typing history: who sent each update, and how much text it inserted (paste signal).
        self.meter = TextMeter(self.sync.doc)
        self.authors: dict[int, int] = {}
        self.outboxes: dict[int, Outbox] = {}
        self.refs = 0
        self.ready: asyncio.Task[None] | None = None
        self.barrier: asyncio.Future[None] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.subscription: Subscription | None = None
        self.unload_timer: asyncio.TimerHandle | None = None

    @property
    def key(self) -> DocKey:
        return (self.room_id, self.name)

    def join(self, outbox: Outbox, *, writable: bool, author: int | None = None) -> None:
        self.outboxes[outbox.conn_id] = outbox
        if author is not None:
            self.authors[outbox.conn_id] = author
        self.dispatch(
            self.sync.connect(outbox.conn_id, writable=writable, user=author), time.perf_counter()
        )

    def receive(self, conn_id: int, frame: bytes) -> None:
        """A frame from a local socket. Raises ProtocolError: close that socket with 1002."""
        since = time.perf_counter()
        self.registry.metrics.bytes_in.inc(len(frame))
        if not is_update_frame(frame):
            # Awareness (most frames: every renewal comes back from each client), a step1.
            self.dispatch(self.sync.receive(conn_id, frame), since)
            return
        self._check_size(len(frame))
        self.meter.start()
        try:
            out = self.sync.receive(conn_id, frame)
        finally:
            change = self.meter.take()
        if out.persist:
            self.registry.metrics.updates_in.inc(len(out.persist))
        author, inserted, key = self.authors.get(conn_id), change.inserted, change.inserted_key
        self.dispatch(out, since, author=author, inserted=inserted, inserted_key=key)

    def _check_size(self, incoming: int) -> None:
        """server/security/quotas.py rule 2: raise QuotaExceeded past ``max_doc_bytes``."""
        limit = self.registry.quota.max_doc_bytes
        self.size += incoming
        if limit and self.size > limit:
            self.size = len(self.sync.doc.get_update()) + incoming  # the real size, rarely
            if self.size > limit:
                self.size -= incoming
                raise QuotaExceeded(f"this document is over its quota of {limit} bytes")

    def leave(self, conn_id: int) -> None:
        self.outboxes.pop(conn_id, None)
        self.authors.pop(conn_id, None)
        self.dispatch(self.sync.disconnect(conn_id), time.perf_counter())

    def dispatch(
        self,
        out: Output,
        since: float,
        *,
        author: int | None = None,
        inserted: int = 0,
        inserted_key: int | None = None,
    ) -> None:
        registry = self.registry
        if out.persist:
            self.barrier = registry.docstore.append(
                self.room_id,
                self.name,
                out.persist,
                author=author,
                inserted=inserted,
                inserted_key=inserted_key,
            )
        barrier = self.pending_commit()
        # Counted per run of recipients of one frame (a broadcast is one run), and into
        # the metrics once per event: a locked counter per recipient costs as much as the send.
        sent_bytes = sent_updates = count = 0
        last = b""
        get = self.outboxes.get
        for conn_id, frame in out.sends:
            outbox = get(conn_id)
            if outbox is None:
                continue
            outbox.enqueue(frame, barrier, since)
            if frame is not last:
                sent_bytes, sent_updates = _tally(last, count, sent_bytes, sent_updates)
                last, count = frame, 0
            count += 1
        sent_bytes, sent_updates = _tally(last, count, sent_bytes, sent_updates)
        if sent_bytes:
            registry.metrics.bytes_out.inc(sent_bytes)
        if sent_updates:
            registry.metrics.updates_out.inc(sent_updates)
        if self.peers.origins:
            for frame in out.publish:
                registry.publish(self.channel, self.origin + frame, barrier)
        if out.awareness_due is not None:
            self._flush_at(out.awareness_due)

    def _flush_at(self, due: float) -> None:
        """Have :meth:`_flush` run at ``due`` (the sync's clock), or sooner if it already is."""
        loop = asyncio.get_running_loop()
        delay = max(0.0, due - self.sync.clock())
        if self.flush_timer is not None:
            if self.flush_due <= loop.time() + delay:
                return
            self.flush_timer.cancel()  # a coalesced state due before the held renewals
        self.flush_due = loop.time() + delay
        self.flush_timer = loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        """Pass on coalesced awareness states and held renewals (rooms/sync.py rules 7, 8)."""
        self.flush_timer = None
        self.dispatch(self.sync.flush_awareness(), time.perf_counter())

    def pending_commit(self) -> asyncio.Future[None] | None:
        """What a frame published now waits for: the commit of the last update, if due."""
        return self.barrier if self.barrier is not None and not self.barrier.done() else None

    def share(self, frames: list[bytes] | None = None) -> None:
        """Publish ``frames`` (by default our whole state and our clients' awareness), once
        the updates they show are stored, whatever we know of peers (peers.py rules 2, 3, 7)."""
        if frames is None:
            awareness = self.sync.local_awareness_frame()
            frames = [self.sync.resync_frame(), *([awareness] if awareness else [])]
        barrier = self.pending_commit()
        for frame in frames:
            self.registry.publish(self.channel, self.origin + frame, barrier)

    async def read_bus(self, subscription: Subscription) -> None:
        own = self.origin
        async for message in subscription:
            origin = message[:ORIGIN_BYTES]
            if origin == own:
                continue  # our own, already delivered locally
            try:
                frame = message[ORIGIN_BYTES:]
                if is_peer_frame(frame):
                    reply = self.peers.hear(origin, frame)
                    if reply.share:
                        self.share()
                    if reply.answer:
                        self.registry.publish(self.channel, own + HERE, None)
                    continue
                out = self.sync.receive_remote(frame)
                if self.peers.met(origin):
                    self.share()  # peers.py rule 8
                self.dispatch(out, time.perf_counter())
            except ProtocolError as exc:
                log.warning("room %s doc %s: bad frame on the bus: %s", *self.key, exc)
            except Exception:
                # Task boundary: one bad message must not end this document's bus reader.
                log.error("room %s doc %s: bus message failed", *self.key, exc_info=True)


def _tally(frame: bytes, count: int, sent_bytes: int, sent_updates: int) -> tuple[int, int]:
    """Add ``count`` sends of ``frame`` to the bytes and the update frames sent."""
    sent_bytes += count * len(frame)
    if count and frame[0] == 0 and frame[1] != 0:  # a sync step2 or update
        sent_updates += count
    return sent_bytes, sent_updates


class DocumentRegistry:
    """Every document loaded in this process. ``start``/``close`` in the lifespan."""

    def __init__(
        self,
        docstore: DocStore,
        bus: Bus,
        metrics: DocMetrics,
        *,
        unload_grace_seconds: float = 30.0,
        max_per_room: int = 500,
        max_per_user: int = 20,
        awareness_limits: AwarenessLimits | None = None,
        staff_reserved: int = 0,
        quota: DocumentQuota | None = None,
        peer_check_seconds: float = PEER_CHECK_SECONDS,
    ) -> None:
        self.docstore = docstore
        self.bus = bus
        self.metrics = metrics
        self.unload_grace_seconds = unload_grace_seconds
        self.max_per_room = max_per_room
        self.max_per_user = max_per_user
        self.awareness_limits = awareness_limits or AwarenessLimits()
        self.quota = quota or DocumentQuota()
        self.staff_reserved = min(staff_reserved, max_per_room // 10)  # at most a tenth
        self.peer_check_seconds = peer_check_seconds
        self._docs: dict[DocKey, LoadedDocument] = {}
        self._room_conns: Counter[int] = Counter()
        self._user_conns: Counter[int] = Counter()
        self._next_conn = 0
        self.publisher = Publisher(bus)
        self.publish = self.publisher.publish
        self._publisher: asyncio.Task[None] | None = None
        self._peer_checker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unload_callbacks: list[Callable[[DocKey], None]] = []

    async def start(self) -> None:
        await self.docstore.start()
        self._publisher = asyncio.create_task(self.publisher.run(), name="docs-publisher")
        if self.bus.spans_processes:
            self._peer_checker = asyncio.create_task(self._check_peers(), name="docs-peers")
            self.metrics.shared.set_function(self.shared)
        self.bus.on_reconnect(self.resync)

    async def close(self) -> None:
        if self.bus.spans_processes and self._docs:
            # peers.py rule 5, at once: the publisher stops here.
            byes = [(doc.channel, doc.origin + BYE) for doc in self._docs.values()]
            with contextlib.suppress(Exception):
                await self.bus.publish_many(byes)
        for task in [self._publisher, self._peer_checker, *self._tasks]:
            if task is not None:
                task.cancel()
        for doc in list(self._docs.values()):
            await self._drop(doc, farewell=False)
        await self.docstore.close()

    # connections ---------------------------------------------------------------------

    def admit(self, room_id: int, user_id: int, *, staff: bool = False) -> int:
        """Count a new connection, or raise LimitReached. Returns its connection id.

        Staff are bounded by the room's limit only: an instructor watching a class live holds
        one document socket per student."""
        if self._room_conns[room_id] >= self.max_per_room:
            raise LimitReached(f"room {room_id} has {self.max_per_room} open documents already")
        if not staff and self._room_conns[room_id] >= self.max_per_room - self.staff_reserved:
            raise LimitReached(f"room {room_id} is full; the rest is kept for its staff")
        if not staff and self._user_conns[user_id] >= self.max_per_user:
            raise LimitReached(f"you have {self.max_per_user} documents open already")
        self._room_conns[room_id] += 1
        self._user_conns[user_id] += 1
        self._next_conn += 1
        self.metrics.sockets.inc()
        return self._next_conn

    def dismiss(self, room_id: int, user_id: int) -> None:
        self._room_conns[room_id] -= 1
        self._user_conns[user_id] -= 1
        if self._room_conns[room_id] <= 0:
            del self._room_conns[room_id]
        if self._user_conns[user_id] <= 0:
            del self._user_conns[user_id]
        self.metrics.sockets.dec()

    # documents -----------------------------------------------------------------------

    async def acquire(self, room_id: int, name: str) -> LoadedDocument:
        """The loaded document, loading it once however many callers arrive together."""
        key = (room_id, name)
        doc = self._docs.get(key)
        if doc is None:
            doc = LoadedDocument(self, room_id, name)
            self._docs[key] = doc
            doc.ready = asyncio.create_task(self._load(doc), name=f"load-{room_id}-{name}")
            self._update_gauges()
        doc.refs += 1
        if doc.unload_timer is not None:
            doc.unload_timer.cancel()
            doc.unload_timer = None
        assert doc.ready is not None
        try:
            # Shielded: a caller that goes away must not cancel the load for the others.
            await asyncio.shield(doc.ready)
        except BaseException:
            self.release(doc)
            failed = doc.ready.done() and not doc.ready.cancelled() and doc.ready.exception()
            if failed and self._docs.get(key) is doc:
                del self._docs[key]  # the next caller tries again
                self._update_gauges()
            raise
        return doc

    async def _load(self, doc: LoadedDocument) -> None:
        doc.subscription = await self.bus.subscribe(doc.channel)
        try:
            if self.bus.spans_processes:
                await self.bus.publish(doc.channel, doc.origin + HELLO)  # peers.py rule 1
            stored = await self.docstore.load(doc.room_id, doc.name)
        except BaseException:
            await doc.subscription.close()
            raise
        doc.size = sum(len(update) for update in stored)
        for update in stored:
            try:
                doc.sync.apply_stored(update)
            except ProtocolError as exc:
                log.error("room %s doc %s: a stored update does not decode: %s", *doc.key, exc)
        doc.reader = asyncio.create_task(doc.read_bus(doc.subscription))
        log.info("loaded room %s doc %s (%d stored updates)", doc.room_id, doc.name, len(stored))

    def release(self, doc: LoadedDocument) -> None:
        doc.refs -= 1
        if doc.refs <= 0 and doc.unload_timer is None and self._docs.get(doc.key) is doc:
            loop = asyncio.get_running_loop()
            doc.unload_timer = loop.call_later(self.unload_grace_seconds, self._unload_later, doc)

    def _unload_later(self, doc: LoadedDocument) -> None:
        doc.unload_timer = None
        task = asyncio.create_task(self._unload(doc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _unload(self, doc: LoadedDocument) -> None:
        # Wait until our updates are stored, or a reload could miss them.
        if doc.barrier is not None:
            await doc.barrier
        if doc.refs > 0 or self._docs.get(doc.key) is not doc:
            return
        await self._drop(doc)
        log.info("unloaded idle room %s doc %s", doc.room_id, doc.name)
        for callback in self._unload_callbacks:
            callback(doc.key)

    async def _drop(self, doc: LoadedDocument, *, farewell: bool = True) -> None:
        if self._docs.get(doc.key) is doc:
            del self._docs[doc.key]
        if farewell and doc.subscription is not None and self.bus.spans_processes:
            self.publish(doc.channel, doc.origin + BYE, None)  # after its queued frames
        if doc.unload_timer is not None:
            doc.unload_timer.cancel()
        if doc.flush_timer is not None:
            doc.flush_timer.cancel()
        if doc.reader is not None:
            doc.reader.cancel()
        if doc.subscription is not None:
            with contextlib.suppress(Exception):
                await doc.subscription.close()
        self._update_gauges()

    def on_unload(self, callback: Callable[[DocKey], None]) -> None:
        """Call ``callback(key)`` after an idle document was unloaded."""
        self._unload_callbacks.append(callback)

    async def check_quota(self, room_id: int, name: DocumentName) -> None:
        """server/security/quotas.py rule 1 for opening ``name``; raises QuotaExceeded."""
        if (room_id, str(name)) in self._docs:
            return
        stored = await self.docstore.changed_at(room_id)
        loaded = [doc for room, doc in self._docs if room == room_id]
        self.quota.check_new(name, [*stored, *loaded])

    def loaded(self) -> list[DocKey]:
        return list(self._docs)

    def holds(self, room_id: int, name: str) -> bool:
        """Whether this process has the document in memory (or is loading it)."""
        return (room_id, name) in self._docs

    def _update_gauges(self) -> None:
        self.metrics.documents.set(len(self._docs))
        self.metrics.rooms.set(len({room for room, _ in self._docs}))

    # bus -----------------------------------------------------------------------------

    def shared(self) -> int:
        """How many loaded documents another process holds too (their frames are published)."""
        return sum(1 for doc in self._docs.values() if doc.peers.origins)

    async def _check_peers(self) -> None:
        while True:
            await asyncio.sleep(self.peer_check_seconds)
            await forget_departed(self.bus, list(self._docs.values()))

    async def resync(self) -> None:
        """After a bus outage: take in what others stored, and offer everything we have."""
        for doc in list(self._docs.values()):
            ready = doc.ready
            if ready is None:
                continue
            if not ready.done():
                # A load in flight: its HELLO may have gone out while the broker was away.
                await asyncio.wait([ready])
            if ready.cancelled() or ready.exception() or self._docs.get(doc.key) is not doc:
                continue
            stored = await self.docstore.load(doc.room_id, doc.name)
            out = doc.sync.resync(stored)
            frames, out.publish = out.publish, []
            doc.dispatch(out, time.perf_counter())
            doc.share([HELLO, *frames])  # peers.py rule 7
            log.info("resynced room %s doc %s after the bus came back", doc.room_id, doc.name)


def stored_text(updates: list[bytes], field: str) -> str:
    """The text of one field of a document made of ``updates`` (undecodable ones skipped:
    they were reported when it was loaded)."""
    sync = DocumentSync()
    for update in updates:
        with contextlib.suppress(ProtocolError):
            sync.apply_stored(update)
    return sync.text(field)


def text_of(doc: LoadedDocument, field: str = "text") -> str:
    """The text of one field of a loaded document (for tests and the instructor view)."""
    return doc.sync.text(field)
