"""server/documents/frames_in.py rule 6: the frames the server reads itself, against the
websockets library reading every frame, on random streams of every kind of frame cut at
random points. Both sides run the library's real sans-I/O server connection; uvicorn's side
of it (its data callback, its queue for the ASGI receive) is the small stand-in below, which
is what uvicorn's websockets-sansio protocol does with the library's events.
tests/server/documents/test_direct.py checks the installed uvicorn takes this path."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import CLOSE, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.utils import apply_mask

from server.documents.direct import hand_over_check
from server.documents.frames_in import FrameReader
from server.documents.metrics import LoopCounter

LIMIT = 300  # the connection's max_size
HANDSHAKE = (
    b"GET /yjs/1/demo HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class Transport:
    def __init__(self) -> None:
        self.protocols: list[object] = []

    def set_protocol(self, protocol: object) -> None:
        self.protocols.append(protocol)

    def is_closing(self) -> bool:
        return False


class Queue(list[bytes]):
    def empty(self) -> bool:
        return not self


@dataclass
class Uvicorn:
    """What uvicorn's protocol does with the library's events: a binary message (whole or
    reassembled from fragments) goes to the app's queue; what the library answers is kept."""

    conn: ServerProtocol
    transport: Transport = field(default_factory=Transport)
    queue: Queue = field(default_factory=Queue)
    close_sent: bool = False
    fragments: list[bytes] = field(default_factory=list)
    sent: bytearray = field(default_factory=bytearray)

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if event.opcode in (Opcode.BINARY, Opcode.CONT, Opcode.TEXT):
                self.fragments.append(bytes(event.data))
                if event.fin:
                    self.queue.append(b"".join(self.fragments))
                    self.fragments = []
        for chunk in self.conn.data_to_send():
            self.sent += chunk


def connected() -> ServerProtocol:
    conn = ServerProtocol(max_size=LIMIT)
    conn.receive_data(HANDSHAKE)
    request = conn.events_received()[0]
    conn.send_response(conn.accept(request))
    conn.data_to_send()
    return conn


# One frame's bytes: (first byte, masked, payload, how its length is written: 0 the shortest
# form, 2 and 8 the longer ones, allowed for a short length too).
FrameBytes = tuple[int, bool, bytes, int]


def encode(frame: FrameBytes, mask: bytes) -> bytes:
    first, masked, payload, form = frame
    length = len(payload)
    if form == 8 or length > 65535:
        header = bytes([first, 127 | (0x80 if masked else 0)]) + length.to_bytes(8)
    elif form == 2 or length > 125:
        header = bytes([first, 126 | (0x80 if masked else 0)]) + length.to_bytes(2)
    else:
        header = bytes([first, length | (0x80 if masked else 0)])
    if not masked:
        return header + payload
    return header + mask + apply_mask(payload, mask)


payloads = st.one_of(
    st.binary(max_size=20),
    st.binary(min_size=120, max_size=140),
    st.binary(min_size=LIMIT - 2, max_size=LIMIT + 2),
)
common = st.tuples(st.just(0x82), st.just(True), payloads, st.sampled_from([0, 0, 2, 8]))
other = st.one_of(
    st.tuples(
        st.just(0x81),
        st.just(True),
        st.binary(max_size=10).map(lambda b: b.hex().encode()),
        st.just(0),
    ),
    st.tuples(st.just(0x89), st.just(True), st.binary(max_size=10), st.just(0)),  # ping
    st.tuples(st.just(0x8A), st.just(True), st.binary(max_size=10), st.just(0)),  # pong
    st.tuples(st.just(0x02), st.just(True), st.binary(max_size=10), st.just(0)),  # first fragment
    st.tuples(st.just(0x00), st.just(True), st.binary(max_size=10), st.just(0)),  # continuation
    st.tuples(st.just(0x80), st.just(True), st.binary(max_size=10), st.just(0)),  # last one
    st.tuples(st.just(0x82), st.just(False), st.binary(max_size=10), st.just(0)),  # unmasked
    st.tuples(
        st.sampled_from([0xC2, 0xA2, 0x92, 0x83]), st.just(True), st.binary(max_size=5), st.just(0)
    ),
    st.tuples(st.just(0x88), st.just(True), st.just(b"\x03\xe8"), st.just(0)),  # close 1000
)
streams = st.lists(st.one_of(common, common, common, other), min_size=1, max_size=12)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def installed(uvicorn: Uvicorn, taken: list[bytes], answers: list[bool]) -> FrameReader:
    """Rule 6 on ``uvicorn``'s connection: messages to ``taken``, the owner accepting as
    ``answers`` say in turn (then always)."""
    said = iter(answers)
    reader = FrameReader.install(
        uvicorn,
        taken.append,
        hand_over_check(uvicorn, lambda: next(said, True)),
        LoopCounter("t", "t"),
    )
    assert reader is not None
    return reader


def read(chunks: list[bytes], accepting: list[bool] | None) -> tuple[list[bytes], bytes, object]:
    """Feed ``chunks``, with rule 6 when ``accepting`` (the owner's answers, in turn) is
    given; every message in the order the app would see it, what the server sent back, and
    the library's final state and error."""
    uvicorn = Uvicorn(connected())
    taken: list[bytes] = []
    feed = (
        uvicorn.data_received
        if accepting is None
        else installed(uvicorn, taken, accepting).data_received
    )
    for chunk in chunks:
        feed(chunk)
    exc = uvicorn.conn.parser_exc
    outcome = (uvicorn.conn.state, type(exc).__name__ if exc else None, b"".join(uvicorn.fragments))
    return [*taken, *uvicorn.queue], bytes(uvicorn.sent), outcome


@settings(max_examples=int(os.environ.get("CLASSROOM_FRAMES_EXAMPLES", "400")), deadline=None)
@given(
    streams,
    st.binary(min_size=4, max_size=4),
    st.lists(st.integers(min_value=0, max_value=5000), max_size=8),
    st.lists(st.booleans(), max_size=12),
    st.lists(st.booleans(), max_size=12),
)
def test_the_same_messages_replies_and_errors_as_the_library_alone(
    frames: list[FrameBytes],
    mask: bytes,
    points: list[int],
    between: list[bool],
    accepting: list[bool],
) -> None:
    encoded = [encode(frame, mask) for frame in frames]
    data = b"".join(encoded)
    # Cuts anywhere, and cuts between frames (where a chunk's last frame ends).
    ends = [sum(map(len, encoded[: i + 1])) for i, chosen in enumerate(between) if chosen]
    chunks = cut(data, [*points, *ends])
    assert read(chunks, accepting) == read(chunks, None)


def test_a_fragmented_message_under_way_is_the_librarys() -> None:
    """A whole binary frame while a fragmented message is under way is a protocol error:
    the library says so, it is not read here."""
    mask = b"\x05\x06\x07\x08"
    chunks = [encode((0x02, True, b"first", 0), mask), encode((0x82, True, b"whole", 0), mask)]
    messages, _, (_, error, _) = read(chunks, [])
    assert (messages, error) == ([], "ProtocolError")
    assert read(chunks, []) == read(chunks, None)


def test_after_a_message_queued_for_the_asgi_receive_every_message_is_queued() -> None:
    """One message the owner was not accepting goes to uvicorn's queue; the next ones
    follow it there, whatever the owner says, so the app reads them in order."""
    mask = b"\x05\x06\x07\x08"
    chunks = [encode((0x82, True, bytes([n]), 0), mask) for n in range(4)]
    uvicorn = Uvicorn(connected())
    taken: list[bytes] = []
    reader = installed(uvicorn, taken, [True, False])
    for chunk in chunks:
        reader.data_received(chunk)
    assert taken == [b"\x00"]
    assert uvicorn.queue == [b"\x01", b"\x02", b"\x03"]


def test_common_frames_are_read_here_and_the_rest_by_the_library() -> None:
    uvicorn = Uvicorn(connected())
    taken: list[bytes] = []
    counted = LoopCounter("t", "t")
    reader = FrameReader.install(
        uvicorn, taken.append, hand_over_check(uvicorn, lambda: True), counted
    )
    assert reader is not None
    assert uvicorn.transport.protocols == [uvicorn]  # uvloop reads the callback again
    assert vars(uvicorn)["data_received"] == reader.data_received
    mask = b"\x01\x02\x03\x04"
    one = encode((0x82, True, b"one", 0), mask)
    ping = encode((0x89, True, b"hi", 0), mask)
    big = encode((0x82, True, b"x" * 200, 0), mask)
    stream = one + ping + one + big
    for at in range(len(stream)):  # a byte at a time: every header and payload cut up
        reader.data_received(stream[at : at + 1])
    # The first frame read here; the ping and everything after it in its chunk went to the
    # library, which answered it; then the next chunks were read here again.
    assert taken == [b"one", b"one", b"x" * 200]
    assert counted.value == 3
    assert uvicorn.sent == Frame(Opcode.PONG, b"hi").serialize(mask=False)
    assert uvicorn.queue == []

    reader.data_received(big[:10])  # kept here until the rest comes
    reader.remove()  # ... or until the callback goes back to uvicorn, with it
    assert "data_received" not in vars(uvicorn)
    uvicorn.data_received(big[10:])
    assert uvicorn.queue == [b"x" * 200]


def test_nothing_is_read_here_once_a_close_came() -> None:
    uvicorn = Uvicorn(connected())
    taken: list[bytes] = []
    reader = installed(uvicorn, taken, [])
    mask = b"\x00\x00\x00\x00"
    close = Frame(CLOSE, b"\x03\xe8").serialize(mask=True)
    reader.data_received(close + encode((0x82, True, b"late", 0), mask))
    reader.data_received(encode((0x82, True, b"later", 0), mask))
    assert taken == []
    assert uvicorn.conn.state is State.CLOSING
    assert uvicorn.queue == []  # the library discards what follows a close


def test_bytes_the_library_is_halfway_through_are_its_own_even_if_they_look_like_a_frame() -> None:
    """A ping whose header came in one chunk and whose payload (the bytes of a common frame)
    comes in the next: the library, halfway through the ping, takes the payload. After bytes
    went to the library the reader asks again where its parser stands."""
    uvicorn = Uvicorn(connected())
    taken: list[bytes] = []
    reader = installed(uvicorn, taken, [])
    mask = b"\x00\x00\x00\x00"  # the ping's payload on the wire is the payload itself
    inner = encode((0x82, True, b"hi", 0), mask)
    ping = encode((0x89, True, inner, 0), mask)
    reader.data_received(ping[:6])  # the ping's header and mask
    reader.data_received(ping[6:])  # its payload, which looks like a common frame
    reader.data_received(encode((0x82, True, b"after", 0), mask))
    assert taken == [b"after"]
    assert uvicorn.sent == Frame(Opcode.PONG, inner).serialize(mask=False)
