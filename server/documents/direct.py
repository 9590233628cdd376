"""Fan-out without an ASGI send per recipient, and frames in without an ASGI receive each.

Design note. A document update goes to every other connection of its document. Through ASGI
that is one ``await send(...)`` per recipient: Starlette's ``WebSocket.send`` with its state
checks, its exception-handler wrapper, then uvicorn's ``send``, which waits on an event and
has the websockets protocol encode the same frame again for this socket. The Node reference
writes the same bytes to every socket and does nothing else. So do we, where we safely can:

Rule 1 — encode once. A server's frame is not masked, and uvicorn runs with
per-message-deflate off (server/cli.py), so a binary frame's bytes are the same for every
recipient: :func:`wire_frame` builds them once per update.
The room events socket writes its JSON the same way, one text frame per event for all its
recipients (:func:`wire_text_frame`, server/events/endpoint.py).

Rule 2 — write directly only to a socket that an ASGI send would write to at once: the
handshake is done, no close was sent or received, the transport is not paused for a slow
reader (uvicorn's ``writable``), and the websockets protocol is OPEN. Otherwise
:meth:`DirectWriter.write` returns False and the caller falls back to the ASGI send, which
waits as it should; frames behind it keep their order (server/documents/outbox.py).

Rule 3 — recognize, never assume. :meth:`DirectWriter.of` returns a writer only for uvicorn's
websockets-sansio protocol with every attribute this relies on and no extension negotiated;
any other ASGI server, implementation or version gets None and the ordinary path.
tests/server/documents/test_direct.py fails if the installed uvicorn stops taking this path.
Two of rule 2's checks read what a public accessor returns rather than call it: the websockets
connection's ``_state`` (its ``state`` property returns it) and uvicorn's ``writable`` event's
``_value`` (``asyncio.Event.is_set`` returns it). Each check runs for every recipient of every
update, and each call was a Python frame on cold objects (1.4 % of the many-rooms server's
CPU by perf; with the outbox's slots, outbox.py, and the transport kept instead of three bound
methods, the many-rooms benchmark measured 14.7 → 13.9 % of a core, bench/README.md). So the
writer is made only where both are what their accessors return, and where ``writable`` is an
``asyncio.Event`` itself; tests/server/documents/test_held_frames.py pins that each follows its
accessor through every way the library closes a connection.

Rule 4 — the way in. Through ASGI each received frame is queued, reading is paused, the
socket's task is woken through every middleware's await, and reading resumes once the queue
is empty: per frame a queue, a task switch and two changes of the poller's interest. Most
frames are awareness renewals echoed back by every other client of a room, so this cost came
per client per renewal. :func:`read_directly` instead hands each complete binary message to
the document from uvicorn's own data callback, where uvicorn has parsed and reassembled it
(the websockets library parses every frame but the common one, rule 6, and answers pings and
closes). Only while
uvicorn's queue is empty: anything queued before (frames that came during authorization, a
text frame) goes first through the ASGI receive, and so does every message behind it, so the
order is kept. A message after a close was sent, every text message, and every message while
the socket's owner is not ``accepting`` (it is still taking an update's pieces, rooms/pieces.py
rule 2) take uvicorn's path, which stops reading the socket while a message waits.

Rule 5 — one write per socket per turn of a busy document. A write to a socket is a system call
(uvloop writes at once when nothing is buffered), the largest single share of the main thread's
time (23 % of its busy samples in a profile of many small rooms); one room of 100 with 10
writers at 20 Hz made 20,000 ``write`` calls a second, each update sent to 99 sockets one call
at a time, even when several updates came in one turn of the loop. So a document whose
dispatches often come several to a turn *holds* its frames (server/documents/loaded.py): each
recipient's :meth:`DirectWriter.write` keeps the bytes, and :class:`TurnWrites` writes what
each socket holds as one buffer at the end of the turn (one callback a turn), so k updates of a
turn cost each recipient one ``write`` instead of k. Holding costs a little per frame and saves
nothing when a socket gets one frame a turn, and most documents' dispatches come one to a turn:
in the benchmark's many small rooms, frames held when a dispatch came within 10 ms of the one
before (half of them) never shared a write, and cost the server 4 % more CPU in one round
(another round's noise hid it). So each document keeps a moving average (:class:`Sharing`) of
how often a dispatch came in the same turn as its previous one, turns told apart by
:class:`TurnWrites` (a number that its end-of-turn callback moves on, scheduled by the first
dispatch of a turn), and holds while that share is over :data:`HOLD_ABOVE`. Measured
(bench/README.md): with 1/16 the many small rooms still held three frames in four (their two
writers' updates sometimes share a turn) and cost 2 points of a core more; with 1/8 they cost
the same as without holding, and the room of 100 about 7 % less than without. How many updates
share a turn grows with the load: a loop that falls behind reads more of them a turn, and saves
more. The order of a socket's frames is kept: a frame written while some are held joins them;
before a writer declines (rule 2), so that an ASGI send goes next, it writes what it holds. A
socket holds at most :data:`HOLD_BYTES` (then it is written to at once): a slow reader's
transport pauses after as many bytes as before, and the frames after that go to its outbox's
queue and its limit. What a socket holds when its close is sent, or its transport closes, is
dropped, as the outbox drops what it queues (server/documents/outbox.py).

Rule 6 — the common frame read by the server. A binary, final, masked frame within the size
limit, which is nearly every frame a y-websocket client sends, is read from the socket's bytes
by :class:`~server.documents.frames_in.FrameReader` (in uvicorn's place as the transport's data
callback) while the library's parser stands between frames, and handed over under rule 4's
conditions; every other frame, and every byte after it in its chunk, goes to uvicorn and the
library as before. Its design note says how the two keep one stream of frames.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.protocol import State

from server.documents.frames_in import FrameReader, state_readable
from server.documents.metrics import LoopCounter

log = logging.getLogger("classroom.docs")

_OPEN = State.OPEN

# Rule 5: a document holds its frames while more than this share of its dispatches came in the
# same turn of the loop as the one before (a moving average of this weight); a socket that
# holds this many bytes is written to at once.
HOLD_ABOVE = 1 / 8
SHARE_WEIGHT = 1 / 16
HOLD_BYTES = 65536

# Where RawSendMiddleware leaves the ASGI server's own send callable in a WebSocket scope.
RAW_SEND = "classroom.raw_send"

_RELIED_ON = (
    "writable",
    "disconnected",
    "close_sent",
    "handshake_complete",
    "initial_response",
    "transport",
    "conn",
)


def wire_frame(payload: bytes) -> bytes:
    """The bytes of one unmasked, unfragmented binary WebSocket frame carrying ``payload``."""
    return _header(0x82, len(payload)) + payload


def wire_text_frame(text: str) -> bytes:
    """The bytes of one unmasked, unfragmented text frame carrying ``text`` (the room events
    socket's JSON; rule 1 holds for it as for a binary frame)."""
    data = text.encode()
    return _header(0x81, len(data)) + data


def _header(first: int, length: int) -> bytes:
    """A server frame's header (RFC 6455 5.2: no mask, the length in its shortest form) with
    ``first`` its first byte: written here, where the library's ``Frame`` and its checks took
    1.3 µs an update against 0.3 (a slow machine); tests/server/documents/test_direct.py
    compares the two."""
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2)
    return bytes((first, 127)) + length.to_bytes(8)


class Counts(Protocol):
    def inc(self, amount: int = 1) -> None: ...


class TurnWrites:
    """The turns of the loop, and the writers holding frames in this one, each written once
    at its end (rule 5). One per process's document registry; used on the loop's thread only."""

    __slots__ = ("_joined", "_loop", "_writers", "ending", "mark")

    def __init__(self, joined: Counts) -> None:
        self._joined = joined  # frames that shared a write with the frame before them
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writers: list[DirectWriter] = []
        self.mark = 0  # this turn's number, among the turns in which documents sent frames
        self.ending = False  # the turn's end is scheduled

    def now(self) -> int:
        """This turn's number; its end is scheduled (one callback a turn, whoever asks)."""
        if not self.ending:
            self.ending = True
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self.end)
        return self.mark

    def end(self) -> None:
        """The end of the turn: write what every writer holds."""
        self.ending = False
        self.mark += 1
        writers, self._writers = self._writers, []
        joined = write_held(writers)
        if joined:
            self._joined.inc(joined)


class Sharing:
    """How often one document's dispatches come in the same turn as the one before (rule 5)."""

    __slots__ = ("mark", "share")

    def __init__(self) -> None:
        self.mark = -1  # the turn of the last dispatch
        self.share = 0.0  # moving average, of weight SHARE_WEIGHT, of 1 for a shared turn

    def turn(self, turns: TurnWrites) -> TurnWrites | None:
        """A dispatch with frames to send: ``turns`` when its frames are to be held."""
        mark = turns.now()
        share = self.share * (1 - SHARE_WEIGHT)
        if mark == self.mark:
            share += SHARE_WEIGHT
        self.mark = mark
        self.share = share
        return turns if share > HOLD_ABOVE else None


class DirectWriter:
    """Writes a pre-encoded frame straight to one uvicorn websockets-sansio connection."""

    __slots__ = ("_conn", "_held", "_held_bytes", "_protocol", "_transport", "_writable")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        # Fixed for the connection's life (uvicorn sets them once, in __init__ and
        # connection_made): looked up here, not for every frame; read as rule 3 says.
        self._conn = protocol.conn
        self._writable = protocol.writable
        self._transport = protocol.transport
        self._held: list[bytes] = []  # rule 5: this turn's frames, written at its end
        self._held_bytes = 0

    @classmethod
    def of(cls, raw_send: object) -> DirectWriter | None:
        """A writer for the connection behind the ASGI server's ``send``, or None (rule 3).

        Only once the handshake is done (rule 2): that never reverts, so ``write`` need not
        ask again."""
        protocol = getattr(raw_send, "__self__", None)
        if protocol is None or type(protocol).__name__ != "WebSocketsSansIOProtocol":
            return None
        if not all(hasattr(protocol, name) for name in _RELIED_ON):
            return None
        conn = protocol.conn
        if getattr(conn, "extensions", None) != [] or not hasattr(conn, "state"):
            return None
        if protocol.handshake_complete is not True or protocol.initial_response is not None:
            return None
        if not _private_reads_agree(protocol):
            return None
        return cls(protocol)

    def write(self, wire: bytes, turn: TurnWrites | None = None) -> bool:
        """Write ``wire`` (from :func:`wire_frame`) now, or keep it for ``turn``'s end, or
        after the frames this writer holds (rule 5); False when only an ASGI send may."""
        p = self._protocol
        if (
            p.close_sent
            or p.disconnected
            or self._conn._state is not _OPEN
            or not self._writable._value
            or self._transport.is_closing()
        ):
            if self._held:
                self.flush()  # before the ASGI send that follows
            return False
        held = self._held
        if not held:
            if turn is None:
                self._transport.write(wire)
                return True
            # Its first frame of this turn: the turn's end writes it (written here, not a
            # method of the turn's: this runs for every recipient of a held frame).
            if not turn.ending:
                turn.now()
            turn._writers.append(self)
            self._held_bytes = 0
        held.append(wire)
        self._held_bytes += len(wire)
        if self._held_bytes >= HOLD_BYTES:
            self.flush()  # now, so that a slow reader's transport pauses as it would have
        return True

    def flush(self) -> int:
        """Write what this writer holds as one buffer, unless its socket is closing (then
        drop it); how many frames shared the write with the one before them."""
        return write_held((self,))


def write_held(writers: Iterable[DirectWriter]) -> int:
    """What each of ``writers`` holds, written as one buffer a socket, unless the socket is
    closing (then dropped); how many frames shared a write with the one before them. One loop
    for all the writers of a turn's end, not a call each: a busy room's every recipient holds."""
    joined = 0
    for writer in writers:
        try:
            held = writer._held
            if not held:
                continue
            writer._held = []
            p = writer._protocol
            transport = writer._transport
            if (
                p.close_sent
                or p.disconnected
                or writer._conn._state is not _OPEN
                or transport.is_closing()
            ):
                continue
            if len(held) == 1:
                transport.write(held[0])
            else:
                transport.write(b"".join(held))
                joined += len(held) - 1
        except Exception:
            # One socket's failure must not leave the others holding their frames.
            log.warning("a held write failed; its socket's frames are dropped", exc_info=True)
    return joined


def _private_reads_agree(protocol: Any) -> bool:
    """Rule 3: whether the connection's ``_state`` and the ``writable`` event's ``_value``
    are what ``state`` and ``is_set()`` return, so that :meth:`DirectWriter.write` may read
    them instead."""
    conn, writable = protocol.conn, protocol.writable
    if type(writable) is not asyncio.Event:  # not a subclass, which may answer otherwise
        return False
    return vars(writable).get("_value", None) is writable.is_set() and state_readable(conn)


# What read_directly relies on, besides rule 3's recognition of the protocol.
_READER_RELIES_ON = ("send_receive_event_to_app", "frames", "curr_msg_data_type", "queue")


def read_directly(
    raw_send: object,
    on_message: Callable[[bytes], None],
    accepting: Callable[[], bool],
    parsed: LoopCounter,
) -> Callable[[], None] | None:
    """Hand each binary message of the connection behind ``raw_send`` to ``on_message``
    from the protocol's data callback while ``accepting()`` (rule 4), the common frames
    read by :class:`~server.documents.frames_in.FrameReader` (rule 6, counted into
    ``parsed``); return the function that stops it, or None where only the ASGI receive may
    be used (rule 3). ``on_message`` must not raise."""
    if DirectWriter.of(raw_send) is None:
        return None
    protocol: Any = getattr(raw_send, "__self__", None)
    if not all(hasattr(protocol, name) for name in _READER_RELIES_ON):
        return None
    queued = protocol.send_receive_event_to_app
    may_hand_over = hand_over_check(protocol, accepting)

    def deliver() -> None:
        if protocol.curr_msg_data_type != "bytes" or not may_hand_over():
            queued()
            return
        frames = protocol.frames
        protocol.frames = []
        on_message(frames[0] if len(frames) == 1 else b"".join(frames))

    protocol.send_receive_event_to_app = deliver
    reader = FrameReader.install(protocol, on_message, may_hand_over, parsed)

    def stop() -> None:
        if reader is not None:
            reader.remove()
        if protocol.__dict__.get("send_receive_event_to_app") is deliver:
            del protocol.send_receive_event_to_app

    return stop


def hand_over_check(protocol: Any, accepting: Callable[[], bool]) -> Callable[[], bool]:
    """Rule 4: whether a message of uvicorn's ``protocol`` may be handed over from its data
    callback now rather than through its queue: no close sent, nothing queued before it, and
    the socket's owner ``accepting``."""
    queue = protocol.queue

    def may_hand_over() -> bool:
        return not protocol.close_sent and queue.empty() and accepting()

    return may_hand_over


class RawSendMiddleware:
    """Keeps the ASGI server's ``send`` of a WebSocket in its scope (under :data:`RAW_SEND`).

    It must wrap the app before anything that replaces ``send`` for WebSockets, so that what it
    keeps is the server's own callable that :meth:`DirectWriter.of` can recognize.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)
