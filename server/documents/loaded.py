"""One document in memory: its local connections, its fan-out and its bus traffic.

The rules it keeps are the registry's (server/documents/registry.py): frames wait for the
commit of the update they follow (rule 3), go to the bus only while a peer holds the
document (rule 4), and a copy an update damaged is evicted (rule 6).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from rooms.exceptions import DamagedDocument, ProtocolError
from rooms.integrity.replay import TextMeter
from rooms.pieces import Pieces
from rooms.sync import DocumentSync
from rooms.sync_output import Output
from server.bus import Subscription
from server.documents.collector import collection_seconds
from server.documents.direct import Sharing, wire_frame
from server.documents.outbox import SocketOutbox, fan_out
from server.documents.peers import HERE, Peers, is_peer_frame
from server.documents.store import DocKey
from server.security.quotas import QuotaExceeded, beyond_its_size, is_update_frame

if TYPE_CHECKING:
    from server.documents.registry import DocumentRegistry

log = logging.getLogger("classroom.docs")

ORIGIN_BYTES = 16
# The most time the bus reader takes frames one after another without a turn of the loop.
BUS_TURN = 0.005
# The close that sends the other sockets of a damaged document to a fresh copy (rule 6).
RELOADED = (1012, "the document was reloaded: reconnect to resync")


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
        self.load_cost = 0.0  # seconds its load would take, estimated (quotas.py rule 3)
        # Typing history: who sent each update, and how much text it inserted (paste signal).
        self.meter = TextMeter(self.sync.doc)
        self.authors: dict[int, int] = {}
        self.outboxes: dict[int, SocketOutbox] = {}
        self._everyone: list[SocketOutbox] | None = None  # outboxes' values, while they last
        self.closers: dict[int, Callable[[int, str], None]] = {}  # conn -> close its socket
        self.evicted = False  # rule 6
        self.refs = 0
        self.ready: asyncio.Task[None] | None = None
        self.barrier: asyncio.Future[None] | None = None
        self.sharing = Sharing()  # whether its frames are held to the turn's end (direct.py)
        self.reader: asyncio.Task[None] | None = None
        self.subscription: Subscription | None = None
        self.unload_timer: asyncio.TimerHandle | None = None

    def adopt(self, sync: DocumentSync) -> None:
        """Hold ``sync`` (the document as loaded) in place of the empty one it was created
        with, before anyone joined."""
        self.meter.close()
        self.sync = sync
        self.meter = TextMeter(sync.doc)

    @property
    def key(self) -> DocKey:
        return (self.room_id, self.name)

    def join(
        self,
        outbox: SocketOutbox,
        *,
        writable: bool,
        author: int | None = None,
        label: str | None = None,
        close: Callable[[int, str], None] | None = None,
    ) -> None:
        """Connect ``outbox``'s socket, of user ``author`` named ``label`` (the name their
        cursors carry); ``close(code, reason)`` closes it (rule 6)."""
        self.outboxes[outbox.conn_id] = outbox
        self._everyone = None
        if author is not None:
            self.authors[outbox.conn_id] = author
        if close is not None:
            self.closers[outbox.conn_id] = close
        self.dispatch(
            self.sync.connect(outbox.conn_id, writable=writable, user=author, name=label),
            time.perf_counter(),
        )

    def receive(self, conn_id: int, frame: bytes, *, cut: bool = True) -> Pieces | None:
        """A frame from a local socket (an update's piece: ``cut=False``); the pieces to
        receive from it next, one per turn of the loop (rooms/sync.py rule 13). Raises
        ProtocolError: close that socket with 1002."""
        if self.evicted:
            return None  # rule 6: its sockets are closing, their clients resync with the new copy
        since = time.perf_counter()
        self.registry.metrics.bytes_in.inc(len(frame))
        if not is_update_frame(frame):
            # Awareness (most frames: every renewal comes back from each client), a step1.
            self.dispatch(self.sync.receive(conn_id, frame), since)
            return None
        self._check_size(len(frame))
        collected = collection_seconds()  # quotas.py rule 3: time collecting is not the update's
        applying = time.thread_time()
        self.meter.start()
        try:
            out = self.sync.receive(conn_id, frame, cut=cut)
        except DamagedDocument as exc:
            self.registry.evict(self, str(exc), sender=conn_id)
            raise
        finally:
            change = self.meter.take()
        if out.later is not None:
            self.size -= len(frame)  # nothing applied: its pieces count as they come
            return out.later
        if out.persist:
            self.registry.metrics.updates_in.inc(len(out.persist))
            collecting = collection_seconds() - collected
            # Rule 3 charges CPU time. The wall time since ``since`` (earlier than
            # ``applying``) is never less, so an update within its allowance by the wall
            # clock is within it by CPU time too, and the second CPU reading (a system
            # call, unlike the wall clock's) is taken only past it.
            if beyond_its_size(time.perf_counter() - since - collecting, out.units, len(frame)):
                took = time.thread_time() - applying - collecting
                self.load_cost += beyond_its_size(took, out.units, len(frame))
            self.check_load()
        author, inserted, key = self.authors.get(conn_id), change.inserted, change.inserted_key
        self.dispatch(out, since, author=author, inserted=inserted, inserted_key=key)
        return None

    def check_load(self) -> None:
        """server/security/quotas.py rule 3: read-only once its load would take too long."""
        if not self.sync.read_only and self.registry.quota.over_load(self.load_cost):
            self.sync.read_only = True
            log.warning(
                "room %s doc %s: its load would take %.1f s: read-only", *self.key, self.load_cost
            )

    def _check_size(self, incoming: int) -> None:
        """server/security/quotas.py rule 2: raise QuotaExceeded past ``max_doc_bytes``."""
        limit = self.registry.quota.max_doc_bytes
        self.size += incoming
        if limit and self.size > limit:
            # The real size, rarely; with what yrs holds back (rooms/sync.py rule 12).
            self.size = len(self.sync.doc.get_update()) + self.sync.held_back + incoming
            if self.size > limit:
                self.size -= incoming
                raise QuotaExceeded(f"this document is over its quota of {limit} bytes")

    def leave(self, conn_id: int) -> None:
        self.outboxes.pop(conn_id, None)
        self._everyone = None
        self.authors.pop(conn_id, None)
        self.closers.pop(conn_id, None)
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
        sent_bytes = sent_updates = 0
        group = out.group
        if group is not None and len(group[0]) == len(self.outboxes):
            # One broadcast to every socket of the document (but its sender): the outboxes
            # as they are listed, with no pair or lookup per recipient (sync_output.py).
            frame, but = group[1], group[2]
            everyone = self._everyone
            if everyone is None:
                everyone = self._everyone = list(self.outboxes.values())
            skip = None if but is None else self.outboxes.get(but)
            count = len(everyone) - (skip is not None)
            if count:
                # A busy document's frames go out once a turn (direct.py rule 5).
                turn = self.sharing.turn(registry.turn)
                fan_out(
                    everyone, frame, barrier, since, wire=wire_frame(frame), turn=turn, skip=skip
                )
                sent_bytes, sent_updates = _tally(frame, count, 0, 0)
        elif out.sends:
            sent_bytes, sent_updates = self._send_each(out.sends, barrier, since)
        if sent_bytes:
            registry.metrics.bytes_out.inc(sent_bytes)
        if sent_updates:
            registry.metrics.updates_out.inc(sent_updates)
        if self.peers.origins:
            for frame in out.publish:
                registry.publish(self.channel, self.origin + frame, barrier)
        if out.awareness_due is not None:
            self._flush_at(out.awareness_due)

    def _send_each(
        self, sends: list[tuple[int, bytes]], barrier: asyncio.Future[None] | None, since: float
    ) -> tuple[int, int]:
        """Send each (connection, frame), in order; the bytes and the update frames sent."""
        turn = self.sharing.turn(self.registry.turn)  # direct.py rule 5
        sent_bytes = sent_updates = 0
        last = b""
        run: list[SocketOutbox] = []
        runs: list[tuple[bytes, list[SocketOutbox]]] = []
        get = self.outboxes.get
        for conn_id, frame in sends:
            outbox = get(conn_id)
            if outbox is None:
                continue
            if frame is not last:
                last, run = frame, []
                runs.append((frame, run))
            run.append(outbox)
        for frame, run in runs:
            # Encoded once for the run: a broadcast's recipients share it.
            fan_out(run, frame, barrier, since, wire=wire_frame(frame), turn=turn)
            sent_bytes, sent_updates = _tally(frame, len(run), sent_bytes, sent_updates)
        return sent_bytes, sent_updates

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
        turn = time.perf_counter()
        async for message in subscription:
            if time.perf_counter() - turn > BUS_TURN:
                # A queue that holds messages hands them over without a turn of the loop: an
                # update's pieces (rooms/pieces.py) would be applied back to back here.
                await asyncio.sleep(0)
                turn = time.perf_counter()
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
            except DamagedDocument as exc:
                self.registry.evict(self, f"a frame on the bus: {exc}")
                return
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
