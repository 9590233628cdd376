"""The y-websocket protocol for the set of connections to one document, sans I/O.

Feed it what happens — :meth:`DocumentSync.connect`, :meth:`~DocumentSync.receive` (a frame
from a connection), :meth:`~DocumentSync.receive_remote` (a frame another process published),
:meth:`~DocumentSync.disconnect`, :meth:`~DocumentSync.edit` (a change the server makes
itself), :meth:`~DocumentSync.resync` (the bus is back after an outage) — and do what the
returned :class:`Output` says: send each ``(connection, frame)``, store each update of
``persist``, publish each frame of ``publish``. The adapters only move those bytes.

Rules this module keeps:

1. Fan-out forwards the bytes it received: one ``bytes`` object goes to every recipient.
   A client's step2 is re-framed once as an update, since step2 also means "you are synced".
2. Nothing is sent back to the connection a change came from, except awareness: what the
   table accepted from a connection goes to it too, as the y-websocket server sends it. The
   stock provider takes it as a sign of life (it closes a socket that heard nothing for 30 s,
   so a client alone in a document would reconnect every 33 s) and ignores its own entries
   at a clock it already has, so it sends no echo of them.
3. A read-only connection's step2/update frames are dropped. The first dropped frame that
   carries a change is answered with one auth/permission-denied frame; later ones are
   dropped silently so a misbehaving editor cannot make the server chatty.
4. A connection owns the awareness client ids it announced. On disconnect their removal
   (state ``null``, clock + 1) goes to everyone in one frame, and is published.
5. Only changes from local connections and the server's own edits are persisted and
   published; a remote frame was persisted and published by the process that received it.
6. Awareness passes on only what the table accepted (a newer clock, or a removal): echoes
   of states we already have stop here, locally and from the bus. A frame equal to one of
   the last awareness frames this document sent (rooms/presence.py ``EchoMemory``) is one
   (its entries went through the table, whose clocks only grow): it stops undecoded. Each
   renewal in a room of *n* comes back *n - 1* times.
7. A connection may only set and remove the awareness client ids it claimed first (or that
   another connection of the same user holds: a reconnecting tab), at most
   ``limits.max_clients`` of them, each state at most ``limits.max_state_bytes``; anything
   else (a spoof of someone's entry, a flood) is dropped without a word. Frames faster than
   the connection's budget are coalesced: the table takes them at once, and the newest state
   per client is passed on when :attr:`Output.awareness_due` says, by :meth:`flush_awareness`.
8. A renewal (a frame whose accepted entries only raise the clock of a state the table has:
   the provider's "still here" every 15 s) waits up to ``limits.renewal_hold`` (5) seconds
   and goes out with the document's other renewals in one frame, by :meth:`flush_awareness`
   (rooms/presence.py ``RenewalHold``). Each renewal in a room of *n* cost *n* frames out
   and *n - 1* echoes in; now the room pays that once per hold. It is safe: peers drop a
   state not renewed for 30 s, a renewal comes every 15-18 s, so held 5 s it still arrives
   within 23 s (at most 10 s is allowed: 28 s). A change of state, or a removal, goes at
   once and supersedes what is held for its clients. The price is a burst: every client
   gets the hold's renewals at once, and each stock provider sends them all back. In a
   browser that is nothing; a load generator running a whole room in one thread stalled on
   25 states to each of 100 clients every 5 s (bench/README.md), and still on 8 every
   1.2 s. So a hold also ends once its renewals times the room's connections reach
   ``RENEWAL_SENDS`` (160): a flush puts at most that many states before the room's clients
   at once. A room of 20 renews about 7 in 5 s and keeps its one frame per hold (8 would end
   it), a room of 40 sends 4 at a time, one of 81 or more each at the next turn of the loop,
   as the reference does (its hold saves little there: 7 renewals a second). Since a full hold (or
   a hold of 0) goes out at once, a renewal takes from its connection's budget like a
   change: past it, it is coalesced as rule 7 says, so flooding renewals gets a room no more
   frames than flooding changes.
9. The CRDT library (yrs) checks what it decodes and refuses a bad update before changing
   anything (a ProtocolError). Some updates no Yjs client writes made it panic halfway through
   integrating them instead, and some of those panics left the document half-changed: reading
   its text failed, or what it encoded for a newcomer no longer matched what it showed (8 of
   54 panics in 2 million mutated updates, fuzzed; the refusals never did). A client's update
   is read first (rooms/update_check.py), which refuses every shape that fuzzing found to make
   yrs panic; what is not read there (the frames of other server processes, stored updates)
   or what nobody foresaw still might. So a panic marks the document ``damaged`` and raises
   :class:`~rooms.exceptions.DamagedDocument`; nothing is applied to it again, and its holder
   must reload it from what was stored.

10. A whole-state request (step1, awareness query) costs the whole document for a few bytes:
   4-byte step1s on a 50 KB demo froze the process for a minute. A stock provider sends one
   step1 per connection (one every few seconds with ``resyncInterval``), no query. So a
   connection gets ``REQUEST_BURST`` at once, then ``REQUEST_RATE`` a second
   (rooms/sync_awareness.py); past that a request is dropped unanswered.
11. A connection's awareness states carry its user's name: where a state's ``user`` object
   gives another ``name`` or ``id`` (a student's client labelling their cursor "Ms. Smith"),
   the table keeps, and everybody gets, the state with the connection's (rooms/awareness.py
   ``labelled``). A state without ``user`` passes as sent.
12. What an update of more than ``DELTA_ABOVE`` bytes changed is what is stored and passed
   on, not the bytes sent: the change yrs reports for the transaction (its own encoding, only
   what was new). A script sending one 350 KB update again and again had every copy stored
   and sent to the room (40 copies: 14 MB of rows in 2.6 s), and the document's quota let it
   through, since the document itself did not grow. Now a copy changes nothing, so nothing is
   stored or sent, and an update of which only a little was new costs the room only that
   little. Items the document holds back (their origin unknown to it) are neither stored nor
   sent either, but they take memory: their bytes are counted in :attr:`held_back`, which
   the quota adds to the document's size. Updates of ``DELTA_ABOVE`` bytes or less (a typed
   character, about 30) keep the direct path, since yrs reporting a change costs about 3.5
   µs, a tenth of an update's whole path; of those, one bringing items that leaves the
   document's state vector as it was (a copy, or items all held back) is neither stored nor
   sent, and counted in :attr:`held_back` (two state vectors, read in the apply's own
   transaction through the library's own objects where pycrdt holds them: ``_NATIVE``).
13. An update of more than ``WHOLE_UNITS`` structs and deleted ranges is not applied at once:
   :attr:`Output.later` holds its :class:`~rooms.pieces.Pieces`, which the caller hands back
   a piece per turn of its loop as frames of the same connection, with ``cut=False``
   (rooms/pieces.py). One larger than ``CUT_WHILE_READING`` bytes is cut while it is read,
   not read twice.
14. yrs integrates an update in time that grows with the square of its client ids, and a
   document's state is one update at every load and compaction: a student's file written
   by 60,000 client ids (689 KB) took 6.2 s to load, and, applied in pieces, only 88 ms to
   write. A browser tab is one client id (a student opening their file three times a day for
   a term makes a few hundred), so a document holds the changes of at most
   ``MAX_DOC_CLIENTS`` (10,000: about 50 ms of a load); an update that would bring it more is
   refused like a malformed one.
15. With :attr:`read_only` set, every connection is a reader (its holder found the document
   too costly to load to let it grow: server/security/quotas.py rule 3).

Any hostile frame raises :class:`~rooms.exceptions.ProtocolError` and changes nothing (of an
update handed back in pieces, rule 13, the pieces before the one refused stay applied); an
update that the CRDT library would choke on, or that browsers could not decode, is one,
found before anything decodes it (rooms/update_check.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pycrdt

from rooms.awareness import AwarenessLimits, AwarenessTable
from rooms.exceptions import DamagedDocument, ProtocolError
from rooms.frames import (
    EMPTY_UPDATE,
    MessageType,
    SyncType,
    permission_denied_frame,
    step1_frame,
    step2_frame,
    update_frame,
)
from rooms.pieces import WHOLE_UNITS, Cutter, pieces
from rooms.snapshots import apply_reporting
from rooms.sync_awareness import DocumentPresence
from rooms.sync_output import Connection, Output
from rooms.update_check import read_update
from rooms.varint import Reader, decode_state_vector

# Rule 12: an update longer than this is stored and passed on as the change it made.
DELTA_ABOVE = 128
# Rule 13: updates above this many bytes are cut while they are read.
CUT_WHILE_READING = 8192
# Rule 14: the most client ids whose changes one document holds.
MAX_DOC_CLIENTS = 10_000
# An update frame whose update is under 128 bytes starts with these, then its length.
_SHORT_UPDATE = bytes((MessageType.SYNC, SyncType.UPDATE))


class DocumentSync:
    """One document and the connections open on it."""

    def __init__(
        self,
        doc: pycrdt.Doc[Any] | None = None,
        *,
        limits: AwarenessLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.doc = doc if doc is not None else pycrdt.Doc()
        self.limits = limits or AwarenessLimits()
        self._connections: dict[int, Connection] = {}
        # Rules 2, 4, 6, 7, 8, 10 and 11: presence, on the same connections.
        self.presence = DocumentPresence(self._connections, self.limits, clock)
        self.awareness: AwarenessTable = self.presence.table
        self.damaged = False  # rule 9
        self.held_back = 0  # rule 12: bytes of items yrs holds back (and of small copies)
        self._clients: set[int] | None = None  # rule 14: the client ids known to hold changes
        # Every connection a reader: the holder found the document too costly to grow.
        self.read_only = False

    @property
    def clock(self) -> Callable[[], float]:
        """The clock of its awareness budgets and held renewals (its presence's own)."""
        return self.presence.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.presence.clock = clock

    @property
    def connections(self) -> list[int]:
        return list(self._connections)

    def connect(
        self, conn: int, *, writable: bool, user: int | None = None, name: str | None = None
    ) -> Output:
        """Register ``conn`` (of ``user`` named ``name``, when known); send it our step1 and
        the awareness states we know."""
        if conn in self._connections:
            raise ValueError(f"connection {conn} is already open")
        self._connections[conn] = Connection(writable, user, name)
        out = Output()
        out.sends.append((conn, step1_frame(self.doc.get_state())))
        joined = self.presence.joined_frame()
        if joined is not None:
            out.sends.append((conn, joined))
        return out

    def set_writable(self, conn: int, writable: bool) -> None:
        """Change what ``conn`` may do from its next frame on (a freeze, a driver swap). A
        connection made read-only again gets its one permission-denied frame anew."""
        state = self._connections.get(conn)
        if state is not None and state.writable != writable:
            state.writable = writable
            state.denied = False

    def receive(self, conn: int, frame: bytes, *, cut: bool = True) -> Output:
        """Handle one frame from a local connection (an update's piece: ``cut=False``, rule
        13). Raises ProtocolError on bad input."""
        state = self._connections[conn]
        if frame[:1] == b"\x01" and frame in self.presence.echoes:  # MessageType.AWARENESS
            return Output()  # rule 6: an echo
        out = Output()
        if frame[:2] == _SHORT_UPDATE and len(frame) > 2 and frame[2] == len(frame) - 3 < 0x80:
            self._receive_sync(conn, state, None, frame, out, cut=cut)
            return out
        reader = Reader(frame)
        kind = reader.var_uint()
        if kind == MessageType.SYNC:
            self._receive_sync(conn, state, reader, frame, out, cut=cut)
        elif kind == MessageType.AWARENESS:
            self.presence.receive(conn, state, reader.var_bytes(), frame, out)
        elif kind == MessageType.QUERY_AWARENESS:
            if self.presence.may_request(state):
                out.sends.append((conn, self.presence.present_frame()))
        elif kind == MessageType.AUTH:
            pass  # clients have nothing to say here; y-websocket servers ignore it too
        else:
            raise ProtocolError(f"unknown message type {kind}")
        return out

    def _receive_sync(
        self,
        conn: int,
        state: Connection,
        reader: Reader | None,
        frame: bytes,
        out: Output,
        *,
        cut: bool,
    ) -> None:
        """A sync ``frame`` past its message type; with no ``reader``, an update frame whose
        update is under 128 bytes (a keystroke's: its header read in place)."""
        sub: int
        if reader is None:
            sub, update = SyncType.UPDATE, frame[3:]
        else:
            sub = reader.var_uint()
            if sub == SyncType.STEP1:
                state_vector = reader.var_bytes()
                if self.presence.may_request(state):
                    out.sends.append((conn, step2_frame(self._diff(state_vector))))
                return
            if sub not in (SyncType.STEP2, SyncType.UPDATE):
                raise ProtocolError(f"unknown sync message type {sub}")
            update = reader.var_bytes()
        if update == EMPTY_UPDATE:
            return
        # Read before anything decodes it (rooms/update_check.py); a large one cut meanwhile.
        cutter = Cutter(update) if cut and len(update) > CUT_WHILE_READING else None
        reading = read_update(update, plan=cutter)
        if not state.writable or self.read_only:
            # A step2 is the client's half of the handshake; only one bringing new
            # structs is an attempt to write. Every update frame is one.
            if (sub == SyncType.UPDATE or self._brings_news(update)) and not state.denied:
                state.denied = True
                out.sends.append((conn, permission_denied_frame()))
            return
        self._admit_clients(reading.clients)
        if cut and reading.units > WHOLE_UNITS:  # rule 13
            out.later = cutter.pieces() if cutter is not None else pieces(update)
            return
        out.units = reading.units
        if len(update) > DELTA_ABOVE:
            changed = self._apply_changes(update)
            if changed is None:
                return  # rule 12: nothing new
            if changed is not update:
                update, sub = changed, SyncType.STEP2  # framed anew below
        elif update[0]:  # it brings items: one transaction, the state vector read in it
            if not self._apply_placing(update):
                # Rule 12: a copy, or all held back; counted alike (telling them apart
                # would take a diff of every small update).
                self.held_back += len(update)
                return
        else:
            self._apply(update)
        forward = frame if sub == SyncType.UPDATE else update_frame(update)
        out.broadcast(self._connections, forward, but=conn)
        out.persist.append(update)
        out.publish.append(forward)

    def receive_remote(self, frame: bytes) -> Output:
        """Handle a frame another process published: apply it and pass it to every connection."""
        reader = Reader(frame)
        kind = reader.var_uint()
        out = Output()
        if kind == MessageType.SYNC:
            sub = reader.var_uint()
            if sub not in (SyncType.STEP2, SyncType.UPDATE):
                raise ProtocolError(f"remote sync message type {sub} is not an update")
            self._apply(reader.var_bytes())
            out.broadcast(self._connections, frame)
        elif kind == MessageType.AWARENESS:
            self.presence.receive_remote(frame, reader.var_bytes(), out)
        elif kind == MessageType.QUERY_AWARENESS:
            # Another process resynced after an outage and may have missed our presence (it
            # can subscribe after our own resync published it): announce it again.
            awareness = self.local_awareness_frame()
            if awareness is not None:
                out.publish.append(awareness)
        else:
            raise ProtocolError(f"remote message type {kind} is not an update or awareness")
        return out

    def disconnect(self, conn: int) -> Output:
        """Forget ``conn``; remove its awareness clients for everyone else."""
        state = self._connections.pop(conn, None)
        out = Output()
        if state is not None:
            self.presence.disconnect(conn, state, out)
        return out

    def apply_stored(self, update: bytes) -> None:
        """Apply an update read from the store (no fan-out, no persistence)."""
        self._apply(update)

    def text(self, field: str) -> str:
        """The text of one field of the document."""
        return str(self.doc.get(field, type=pycrdt.Text))

    def edit(self, change: Callable[[pycrdt.Doc[Any]], None]) -> Output:
        """A change the server makes itself, in one transaction: it travels like a local
        client's update (to every connection, persisted, published). Nothing if it changed
        nothing."""
        if self.damaged:
            raise DamagedDocument("this document was damaged by an earlier update")
        before = self.doc.get_state()
        with self.doc.transaction():
            change(self.doc)
        update = self.doc.get_update(before)
        out = Output()
        if update != EMPTY_UPDATE:
            frame = update_frame(update)
            out.broadcast(self._connections, frame)
            out.persist.append(update)
            out.publish.append(frame)
        return out

    def replace_text(self, field: str, text: str) -> Output:
        """Make ``field`` read ``text`` (a server-side edit). Nothing if it already did."""
        if self.text(field) == text:
            return Output()

        def change(doc: pycrdt.Doc[Any]) -> None:
            target = doc.get(field, type=pycrdt.Text)
            del target[:]
            target += text

        return self.edit(change)

    def resync(self, stored: Iterable[bytes]) -> Output:
        """After an outage of the bus: take in ``stored`` (every update the store holds, so
        what the other processes persisted while we could not hear them), send local
        connections what they missed, and publish our whole state and our connections'
        awareness so the other processes get what they missed from us. Updates that do not
        decode are skipped (they were reported when the document was loaded)."""
        before = self.doc.get_state()
        for update in stored:
            with contextlib.suppress(ProtocolError):
                self._apply(update)
        missed = self.doc.get_update(before)
        out = Output()
        if missed != EMPTY_UPDATE:
            out.broadcast(self._connections, update_frame(missed))
        out.publish.append(self.resync_frame())
        awareness = self.local_awareness_frame()
        if awareness is not None:
            out.publish.append(awareness)
        # And ask the others for theirs: a process that resynced before we subscribed again
        # announced its presence to nobody (presence is not stored, unlike updates).
        out.publish.append(bytes([MessageType.QUERY_AWARENESS]))
        return out

    def flush_awareness(self) -> Output:
        """Pass on the coalesced awareness states whose connection has budget again, and
        the held renewals once their time has come (rules 7, 8)."""
        return self.presence.flush()

    def local_awareness_frame(self) -> bytes | None:
        """The awareness states of this process's connections, to re-announce after an outage."""
        return self.presence.local_frame()

    def resync_frame(self) -> bytes:
        """The whole document as one update frame; applying it anywhere is idempotent."""
        return update_frame(self.doc.get_update())

    def _apply_placing(self, update: bytes) -> bool:
        """Apply ``update`` in one transaction; whether the state vector moved (rule 12).
        Where :data:`_NATIVE` holds, through the CRDT library's own document and transaction,
        as pycrdt's methods do (each of which would open a transaction of its own)."""
        doc = self.doc
        with doc.transaction() as txn:
            if not _NATIVE:
                before = doc.get_state()
                self._apply(update)
                return doc.get_state() != before
            native: Any = doc._doc
            inner: Any = txn._txn
            before = native.get_state(inner)
            self._apply(update, inner)
            return bool(native.get_state(inner) != before)

    def _apply(self, update: bytes, inner: Any = None) -> None:
        """Apply ``update`` (in the native transaction ``inner``, if given: :data:`_NATIVE`)."""
        if self.damaged:
            raise DamagedDocument("this document was damaged by an earlier update")
        try:
            if inner is None:
                self.doc.apply_update(update)
            else:
                self.doc._doc.apply_update(inner, update)
        except Exception as exc:  # yrs refuses what does not decode before changing anything
            raise ProtocolError(f"update does not decode: {exc}") from None
        except BaseException as exc:  # a pyo3 PanicException: yrs failed inside the change
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            self.damaged = True  # rule 9
            raise DamagedDocument(f"update broke the CRDT library: {exc}") from None

    def _admit_clients(self, clients: list[int]) -> None:
        """Rule 14: ProtocolError if ``clients`` would bring the document more client ids than
        it may hold. The ids known are read from the document's state vector again whenever
        one seems new (other processes' and the server's own edits add ids too)."""
        known = self._clients
        if known is not None:
            for client in clients:
                if client not in known:
                    break
            else:
                return
        known = self._clients = set(decode_state_vector(self.doc.get_state()))
        new = {client for client in clients if client not in known}
        if len(known) + len(new) > MAX_DOC_CLIENTS:
            limit = MAX_DOC_CLIENTS
            raise ProtocolError(f"update would bring this document past {limit} client ids")
        known |= new  # counted before the apply: a refusal after it overcounts

    def _apply_changes(self, update: bytes) -> bytes | None:
        """Rule 12: apply ``update``; what it changed (``update`` itself when that is no
        shorter), or None when it changed nothing."""
        changed, held_back = apply_reporting(self.doc, update, self._apply)
        self.held_back += held_back
        return changed

    def _diff(self, state_vector: bytes) -> bytes:
        try:
            return self.doc.get_update(state_vector)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise ProtocolError(f"state vector does not decode: {exc}") from None

    def _brings_news(self, update: bytes) -> bool:
        try:
            theirs = decode_state_vector(pycrdt.get_state(update))
        except ProtocolError:
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise ProtocolError(f"update does not decode: {exc}") from None
        ours = decode_state_vector(self.doc.get_state())
        return any(clock > ours.get(client, 0) for client, clock in theirs.items())


def _native_calls_work() -> bool:
    """Whether pycrdt's document and transaction hold the library's own objects, whose
    ``get_state`` and ``apply_update`` its methods call (pycrdt 0.14 does): tried on a
    probe document, whose state must come out as through the public methods."""
    try:
        source: pycrdt.Doc[Any] = pycrdt.Doc(client_id=1)
        source.get("text", type=pycrdt.Text).insert(0, "probe")
        update = source.get_update()
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        with doc.transaction() as txn:
            native: Any = doc._doc
            inner: Any = txn._txn
            empty = native.get_state(inner)
            native.apply_update(inner, update)
            state = native.get_state(inner)
        return bool(
            empty == b"\x00"
            and state == source.get_state() == doc.get_state()
            and str(doc.get("text", type=pycrdt.Text)) == "probe"
        )
    except BaseException as exc:  # a pyo3 PanicException too: then pycrdt's methods serve
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return False


# Rule 12's two state vectors and the apply, each through pycrdt's method, opened a transaction
# apiece inside the update's own: about 3 µs of a keystroke's 10 in the library here.
_NATIVE = _native_calls_work()


def build(
    updates: Sequence[bytes], limits: AwarenessLimits | None = None
) -> tuple[DocumentSync, list[str]]:
    """A document made of stored ``updates``, and what could not go into it, in words for the
    caller to log: one that does not decode is skipped; one that damages the document (rule 9)
    is left out, and the others are applied again to a fresh document, so that a document
    that cannot be built whole is served without that update."""
    left_out: set[int] = set()
    while True:
        sync = DocumentSync(limits=limits)
        problems: list[str] = []
        for index, update in enumerate(updates):
            if index in left_out:
                continue
            try:
                sync.apply_stored(update)
            except DamagedDocument:
                left_out.add(index)
                break
            except ProtocolError as exc:
                problems.append(f"stored update {index + 1} of {len(updates)}: {exc}")
        else:
            problems += [
                f"stored update {index + 1} of {len(updates)} damages the document: left out"
                for index in sorted(left_out)
            ]
            return sync, problems
