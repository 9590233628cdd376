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

Rule 6 — a damaged document is reloaded (rooms/sync.py rule 9). When an update leaves the
CRDT library's document half-changed, that copy leaves memory at once: the sender's socket
is closed with 1002, every other socket of it with 1012, and their clients reconnect to a
copy loaded from the store, which holds every update accepted before (the new load waits
for the old copy's last commit). Frames that reach the old copy meanwhile are dropped: a
reconnecting y-websocket client sends again whatever the server lacks. A stored update that
damages the copy being loaded is left out of it and logged (in a test, applied in order it
made the document read "xhello world" and lose the next client's "!"); one that damages it on
a resync after a bus outage evicts it, and the reload leaves that update out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable

from rooms.awareness import AwarenessLimits
from rooms.documents import DocumentName
from rooms.sync import build
from server.bus import Bus
from server.bus.publisher import Publisher
from server.documents.direct import TurnWrites
from server.documents.loaded import RELOADED, LoadedDocument
from server.documents.metrics import DocMetrics
from server.documents.peers import (
    BYE,
    HELLO,
    PEER_CHECK_SECONDS,
    forget_departed,
)
from server.documents.store import DocKey, DocStore
from server.security.quotas import DocumentQuota

log = logging.getLogger("classroom.docs")
# A load that took longer than this is logged as a warning.
SLOW_LOAD_SECONDS = 0.5


class LimitReached(Exception):
    """Too many connections for a room or a user; the message says which."""


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
        self.turn = TurnWrites(metrics.frames_joined)  # direct.py rule 5
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
        # The last commit of a copy evicted while its updates were being stored (rule 6).
        self._draining: dict[DocKey, asyncio.Future[None]] = {}

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
            draining = self._draining.pop(doc.key, None)
            if draining is not None:  # rule 6: what the evicted copy accepted is stored first
                await asyncio.wait([draining])
            stored = await self.docstore.load(doc.room_id, doc.name)
        except BaseException:
            await doc.subscription.close()
            raise
        doc.size = sum(len(update) for update in stored)
        started = time.perf_counter()
        sync, problems = build(stored, self.awareness_limits)
        took = time.perf_counter() - started
        doc.load_cost = took  # quotas.py rule 3
        doc.adopt(sync)
        doc.check_load()
        for problem in problems:
            log.error("room %s doc %s: %s", *doc.key, problem)
        doc.reader = asyncio.create_task(doc.read_bus(doc.subscription))
        # Building runs on the event loop: a document that takes long to build (rooms/pieces.py
        # says which structures cost yrs most) holds every room of the process at each load.
        level = logging.WARNING if took > SLOW_LOAD_SECONDS else logging.INFO
        log.log(
            level,
            "loaded room %s doc %s (%d stored updates, %d bytes) in %.0f ms",
            doc.room_id,
            doc.name,
            len(stored),
            doc.size,
            took * 1000,
        )

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

    def evict(self, doc: LoadedDocument, reason: str, *, sender: int | None = None) -> None:
        """Rule 6: ``doc`` is damaged. Out of memory now; every socket of it but ``sender``'s
        (which its caller closes) closed to reconnect to a copy loaded from the store."""
        if doc.evicted:
            return
        doc.evicted = True
        self.metrics.reloads.inc()
        others = [conn for conn in doc.outboxes if conn != sender]
        log.error(
            "room %s doc %s damaged (%s): reloading it; %d other sockets reconnect",
            *doc.key, reason, len(others),
        )  # fmt: skip
        if self._docs.get(doc.key) is doc:
            del self._docs[doc.key]
            self._update_gauges()
        pending = doc.pending_commit()
        if pending is not None:
            self._draining[doc.key] = pending
        for conn in others:
            close = doc.closers.get(conn)
            if close is not None:
                close(*RELOADED)
        task = asyncio.create_task(self._drop(doc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
            if doc.sync.damaged:  # rule 6: what the others stored damaged it
                self.evict(doc, "an update stored by another process, on the resync")
                continue
            frames, out.publish = out.publish, []
            doc.dispatch(out, time.perf_counter())
            doc.share([HELLO, *frames])  # peers.py rule 7
            log.info("resynced room %s doc %s after the bus came back", doc.room_id, doc.name)


def stored_text(updates: list[bytes], field: str) -> str:
    """The text of one field of a document made of ``updates`` (what cannot go into it left
    out as at a load, where it was reported)."""
    return build(updates)[0].text(field)


def text_of(doc: LoadedDocument, field: str = "text") -> str:
    """The text of one field of a loaded document (for tests and the instructor view)."""
    return doc.sync.text(field)
