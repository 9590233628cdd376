"""server/documents/direct.py rule 5 at the edges a live socket rarely shows on cue: a writer
holding frames that must decline (its transport paused, its socket closing), and a socket
holding its limit. The writer writes to the attributes of uvicorn's websockets-sansio
protocol that it reads (a real websockets connection, a transport that records its writes);
test_direct.py drives the same path through a real server and real sockets."""

from __future__ import annotations

import asyncio

import pytest
from websockets.frames import Close, CloseCode
from websockets.protocol import State
from websockets.server import ServerProtocol

from server.documents.direct import HOLD_BYTES, DirectWriter, TurnWrites, _private_reads_agree
from server.documents.metrics import LoopCounter
from tests.server.documents.test_frames_in import connected, encode


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing


class Protocol:
    """What DirectWriter reads of uvicorn's protocol."""

    def __init__(self) -> None:
        self.conn = connected()
        self.transport = Transport()
        self.writable = asyncio.Event()
        self.writable.set()
        self.close_sent = False
        self.disconnected = False


async def turn_ended() -> None:
    """Return once the loop's current turn is over (TurnWrites' end was scheduled first)."""
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(done.set_result, None)
    await asyncio.wait_for(done, 5)


async def test_held_frames_are_written_once_at_the_turns_end() -> None:
    joined = LoopCounter("joined", "joined")
    turn, protocol = TurnWrites(joined), Protocol()
    writer = DirectWriter(protocol)
    assert writer.write(b"a", turn) and writer.write(b"b", turn) and writer.write(b"c", turn)
    assert protocol.transport.writes == []
    await turn_ended()
    assert protocol.transport.writes == [b"abc"]
    assert joined.value == 2


async def test_a_writer_that_must_decline_writes_what_it_holds_first() -> None:
    """Its transport paused in the middle of a turn (a slow reader): the frames it held go
    out first, as one write, and it declines the next, which the ASGI send then takes, after
    them; the turn's end writes nothing twice."""
    turn, protocol = TurnWrites(LoopCounter("joined", "joined")), Protocol()
    writer = DirectWriter(protocol)
    assert writer.write(b"a", turn) and writer.write(b"b", turn)
    protocol.writable.clear()
    assert not writer.write(b"c", turn)
    assert protocol.transport.writes == [b"ab"]
    await turn_ended()
    assert protocol.transport.writes == [b"ab"]


@pytest.mark.parametrize("closing", ["close sent", "disconnected", "transport", "close received"])
async def test_what_a_closing_socket_holds_is_dropped(closing: str) -> None:
    """As the outbox drops what it queues for a socket that is closing."""
    turn, protocol = TurnWrites(LoopCounter("joined", "joined")), Protocol()
    writer, other = DirectWriter(protocol), Protocol()
    other_writer = DirectWriter(other)
    assert writer.write(b"a", turn) and writer.write(b"b", turn)
    assert other_writer.write(b"x", turn)
    if closing == "close sent":
        protocol.close_sent = True
    elif closing == "disconnected":
        protocol.disconnected = True
        protocol.transport.closing = True
    elif closing == "transport":
        protocol.transport.closing = True
    else:
        protocol.conn.state = State.CLOSING
    await turn_ended()
    assert protocol.transport.writes == []
    assert other.transport.writes == [b"x"]  # the other socket's frames still go


class FailingTransport(Transport):
    def write(self, data: bytes) -> None:
        raise RuntimeError("the socket went away under the write")


async def test_a_failing_socket_leaves_the_others_frames_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The turn's end writes every writer's frames in one loop: a socket whose write raises
    loses its own frames only, and is logged; the sockets after it are written, and their
    joined frames counted."""
    joined = LoopCounter("joined", "joined")
    turn = TurnWrites(joined)
    failing, before, after = Protocol(), Protocol(), Protocol()
    failing.transport = FailingTransport()
    writers = [DirectWriter(p) for p in (before, failing, after)]
    for writer in writers:
        assert writer.write(b"a", turn) and writer.write(b"b", turn)
    await turn_ended()
    assert before.transport.writes == [b"ab"]
    assert after.transport.writes == [b"ab"]
    assert joined.value == 2  # one joined frame on each of the two written sockets
    assert "a held write failed" in caplog.text
    assert not any(writer._held for writer in writers)  # nothing kept for a later turn


async def test_a_socket_holding_its_limit_is_written_to_at_once() -> None:
    """So that a slow reader's transport pauses after as many bytes as without holding."""
    turn, protocol = TurnWrites(LoopCounter("joined", "joined")), Protocol()
    writer = DirectWriter(protocol)
    big = b"x" * (HOLD_BYTES // 2)
    assert writer.write(big, turn) and writer.write(big, turn)
    assert protocol.transport.writes == [big + big]  # before the turn's end
    assert writer.write(b"y", turn)
    assert protocol.transport.writes == [big + big]
    await turn_ended()
    assert protocol.transport.writes == [big + big, b"y"]


def _in_step(conn: ServerProtocol) -> bool:
    return conn._state is conn.state


@pytest.mark.parametrize("how", ["close received", "close sent", "failed", "end of stream"])
def test_the_connections_state_the_writer_reads_follows_the_library(how: str) -> None:
    """direct.py rule 3: the writer reads ``_state`` for ``state``; every way the library
    closes a connection moves both, so that a closing socket is never written to."""
    conn = connected()
    assert conn.state is State.OPEN and _in_step(conn)
    if how == "close received":
        close = Close(CloseCode.NORMAL_CLOSURE, "bye").serialize()
        conn.receive_data(encode((0x88, True, close, 0), b"\x01\x02\x03\x04"))
    elif how == "close sent":
        conn.send_close(CloseCode.NORMAL_CLOSURE)
    elif how == "failed":
        conn.fail(CloseCode.PROTOCOL_ERROR)
    else:
        conn.receive_eof()
    assert conn.state is not State.OPEN and _in_step(conn)
    conn.data_to_send()
    if how != "end of stream":
        conn.receive_eof()
    assert conn.state is State.CLOSED and _in_step(conn)


def test_the_writable_flag_the_writer_reads_follows_the_event() -> None:
    """direct.py rule 3: the writer reads ``writable._value`` for ``writable.is_set()``."""
    protocol = Protocol()
    writer = DirectWriter(protocol)
    for step in (protocol.writable.clear, protocol.writable.set, protocol.writable.clear):
        step()
        assert protocol.writable._value is protocol.writable.is_set()
        assert writer.write(b"x") is protocol.writable.is_set()


class _OtherEvent(asyncio.Event):
    """A subclass: refused, though this one answers as the event does (another need not)."""


class _OtherConnection:
    """A connection whose ``state`` is not what it keeps as ``_state``."""

    def __init__(self) -> None:
        self.state = State.OPEN


def test_a_writer_is_made_only_where_the_private_reads_are_what_the_accessors_return() -> None:
    assert _private_reads_agree(Protocol())
    other_event = Protocol()
    other_event.writable = _OtherEvent()
    assert not _private_reads_agree(other_event)
    other_connection = Protocol()
    other_connection.conn = _OtherConnection()  # type: ignore[assignment]
    assert not _private_reads_agree(other_connection)
