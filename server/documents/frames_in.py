"""Binary frames read from a document socket's bytes by the server itself (direct.py rule 6).

Design note. Every frame a client sends went through the websockets library's parser: a
chain of generator-based coroutines (``Protocol.parse``, ``Frame.parse``, one
``StreamReader.read_exact`` per part of the header), a ``Frame`` dataclass and an ``Opcode``
enum made for it, its checks, a list of events, then uvicorn's dispatch on the frame's kind.
A profile of our server in the many-rooms benchmark (perf, CPython 3.12's perf maps) put
8 to 9 % of the server's CPU there, more than applying the updates; 3.3 to 3.8 % after
(bench/README.md). Nearly every frame is of
one kind: a y-websocket message (an update, an awareness renewal), binary, unfragmented,
masked as every client frame is, no extension bits (none is negotiated, rule 3).

Rule 6 — the common frame read here, everything else by the library, in order.
:class:`FrameReader` takes uvicorn's place as the transport's data callback (the
protocol's ``data_received``, which uvloop caches until ``set_protocol``). It reads frames
from the start of the bytes while the library's parser stands between two frames with
nothing buffered (its innermost generator waits in ``StreamReader.at_eof``: a parser
halfway through a frame can have an empty buffer too), and each frame that is binary, final,
masked, without reserved bits and within the library's size limit it unmasks (the library's
own ``apply_mask``) and hands to the socket's owner, exactly when rule 4 would have (the
check it shares with rule 4, direct.py ``hand_over_check``: no close sent, uvicorn's queue
empty, the owner accepting), the connection OPEN and no fragmented message under way. The
first byte that is anything else — a ping, a close, a text frame, a fragment, an unmasked or
oversized frame, or a frame it may not hand over now — and all the bytes after it in that
chunk go to uvicorn's own callback, whose parser and checks take them
as before (it answers pings, refuses protocol errors, queues for the ASGI receive); the next
chunk is read here again once the parser stands between frames. Where it stands is asked
again only after bytes went to it, since nothing else moves it while the connection is OPEN
(walking its generators took 1.3 % of the server's CPU, a check per chunk); the connection's
state is read as the direct writer reads it (direct.py rule 3). A frame that has not all
arrived yet is kept here until it has: its length is already within the size limit (the
same bytes the library would buffer), and what arrives is added to it, never copied with it,
so a frame sent a byte at a time costs time in proportion to its size. So the library sees a
whole stream of frames with some whole frames taken out, and refuses what it refused before.
tests/server/documents/test_frames_in.py feeds random streams of every kind of frame, cut at
random points, both ways and compares what comes out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.protocol import State
from websockets.streams import StreamReader

from server.documents.metrics import LoopCounter

try:  # the library's own unmasking: its C version where it was built
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask


_OPEN = State.OPEN
_FIN_BINARY = 0x82  # final, no reserved bits, opcode 2
_MASKED = 0x80
# What rule 6 relies on in the websockets connection and uvicorn's protocol.
_CONN_RELIES_ON = ("reader", "parser", "state", "current_size", "max_message_size")
_PROTOCOL_RELIES_ON = ("transport", "data_received")
_BETWEEN_FRAMES = StreamReader.at_eof.__code__


def state_readable(conn: Any) -> bool:
    """direct.py rule 3: whether the websockets connection's ``_state`` is what its ``state``
    returns, so that the server may read it for every frame instead."""
    return vars(conn).get("_state", None) is conn.state


class FrameReader:
    """Reads the common frame of one uvicorn websockets-sansio connection (rule 6)."""

    __slots__ = (
        "_conn",
        "_counted",
        "_idle",
        "_limit",
        "_may_hand_over",
        "_need",
        "_pass",
        "_protocol",
        "_rest",
        "_take",
    )

    def __init__(
        self,
        protocol: Any,
        take: Callable[[bytes], None],
        may_hand_over: Callable[[], bool],
        counted: LoopCounter,
        limit: int,
    ) -> None:
        self._protocol = protocol
        self._conn = protocol.conn
        self._pass: Callable[[bytes], None] = protocol.data_received  # uvicorn's own
        self._take = take
        self._may_hand_over = may_hand_over
        self._counted = counted
        self._limit = limit
        # The start of a frame to read here, not all arrived yet, and how many bytes it has
        # in all (0 while its header is not all here): added to, not copied, as it arrives.
        self._rest = bytearray()
        self._need = 0
        # The library's parser was found between frames, and no byte went to it since.
        self._idle = False

    @classmethod
    def install(
        cls,
        protocol: Any,
        take: Callable[[bytes], None],
        may_hand_over: Callable[[], bool],
        counted: LoopCounter,
    ) -> FrameReader | None:
        """Read ``protocol``'s common frames from now on (``take`` gets each message, must
        not raise; ``may_hand_over()``: rule 4's say on whether it may have one now); None
        where rule 6 cannot be kept (rule 3: recognize, never assume)."""
        conn: Any = getattr(protocol, "conn", None)
        if not all(hasattr(protocol, name) for name in _PROTOCOL_RELIES_ON):
            return None
        if not all(hasattr(conn, name) for name in _CONN_RELIES_ON):
            return None
        if not state_readable(conn):
            return None
        if "data_received" in vars(protocol) or not hasattr(protocol.transport, "set_protocol"):
            return None  # someone else's callback is in place already
        limit = conn.max_message_size
        fragment = getattr(conn, "max_fragment_size", None)
        if fragment is not None:
            limit = fragment if limit is None else min(limit, fragment)
        if limit is None:
            return None  # no size limit: frames are not kept here without one
        reader = cls(protocol, take, may_hand_over, counted, limit)
        protocol.data_received = reader.data_received
        protocol.transport.set_protocol(protocol)  # uvloop reads the callback again
        return reader

    def remove(self) -> None:
        """Give the data callback back to uvicorn, with the start of a frame kept here."""
        protocol = self._protocol
        if vars(protocol).get("data_received") == self.data_received:
            del protocol.data_received
            protocol.transport.set_protocol(protocol)
        rest, self._rest = self._rest, bytearray()
        if rest and not protocol.transport.is_closing():
            self._idle = False
            self._pass(bytes(rest))

    def _between_frames(self) -> bool:
        """Whether the library's parser waits for the first byte of a frame. Asked again only
        after bytes went to it: only they move it (a ``fail`` or a close moves it too, and
        leaves the connection not OPEN, which no frame is taken in)."""
        if self._idle:
            return True
        conn = self._conn
        if conn.reader.buffer:
            return False
        inner = conn.parser
        while (deeper := getattr(inner, "gi_yieldfrom", None)) is not None:
            inner = deeper
        self._idle = getattr(inner, "gi_code", None) is _BETWEEN_FRAMES
        return self._idle

    def _may_take(self) -> bool:
        """Whether the frame may be handed over now: the library would have had it take
        rule 4's path, and rule 4 says yes."""
        conn = self._conn
        return conn._state is _OPEN and conn.current_size is None and self._may_hand_over()

    def data_received(self, data: bytes) -> None:
        rest = self._rest
        if rest:
            rest += data
            if len(rest) < self._need:
                return
            data = bytes(rest)
            rest.clear()
        if not self._between_frames():
            self._pass(data)
            return
        size = len(data)
        at = taken = 0
        try:
            while at < size:
                if size - at < 2:
                    if data[at] == _FIN_BINARY:
                        self._keep(data, at, 0)  # perhaps one, its header not all here
                        return
                    break
                head = data[at + 1]
                if data[at] != _FIN_BINARY or head < _MASKED:
                    break
                length = head & 0x7F
                start = at + 6  # after the header and the mask
                if length > 125:  # the length follows, in 2 bytes (126) or 8 (127)
                    longer = 2 if length == 126 else 8
                    if size - at < 2 + longer:
                        self._keep(data, at, 0)
                        return
                    length = int.from_bytes(data[at + 2 : at + 2 + longer])
                    start += longer
                if length > self._limit:
                    break  # the library refuses it, with its close code
                end = start + length
                if end > size:
                    self._keep(data, at, end - at)  # the rest of this frame comes later
                    return
                if not self._may_take():
                    break
                payload = apply_mask(data[start:end], data[start - 4 : start])
                at = end
                taken += 1
                self._take(payload)
            if at < size:
                self._idle = False  # the parser moves
                self._pass(data[at:] if at else data)
        finally:
            if taken:
                self._counted.inc(taken)

    def _keep(self, data: bytes, at: int, need: int) -> None:
        """Keep ``data[at:]``, the start of a frame of ``need`` bytes (0: not known yet)."""
        self._rest += memoryview(data)[at:]
        self._need = need
