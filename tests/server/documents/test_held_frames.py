"""server/documents/direct.py rule 5 at the edges a live socket rarely shows on cue: a writer
holding frames that must decline (its transport paused, its socket closing), and a socket
holding its limit. The writer writes to the attributes of uvicorn's websockets-sansio
protocol that it reads (a real websockets connection, a transport that records its writes);
test_direct.py drives the same path through a real server and real sockets."""

from __future__ import annotations

import asyncio

import pytest
from websockets.protocol import State

from server.documents.direct import HOLD_BYTES, DirectWriter, TurnWrites
from server.documents.metrics import LoopCounter
from tests.server.documents.test_frames_in import connected


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
