"""DocumentSync's awareness: presence passed on once, owned per connection, capped and
coalesced; echoes stop at the server. Synchronous, two real pycrdt clients through the pure
object (the helpers are test_sync.py's)."""

from __future__ import annotations

import json
from collections import deque

import pycrdt
import pytest

from rooms import client_json
from rooms.awareness import AwarenessEntry, AwarenessLimits, decode_awareness, encode_awareness
from rooms.exceptions import ProtocolError
from rooms.frames import MessageType, awareness_frame
from rooms.presence import ECHO_MAX_BYTES, ECHO_MEMORY, RENEWAL_HOLD, RENEWAL_SENDS
from rooms.sync import DocumentSync
from tests.rooms.test_sync import Link, _awareness_of


def test_awareness_reaches_others_and_new_joiners_then_goes_on_disconnect() -> None:
    link = Link(DocumentSync())
    a = link.connect(1)
    b = link.connect(2)
    a.announce({"user": {"name": "Ada"}})
    link.flush()
    assert b.awareness.states[a.awareness.client_id] == {"user": {"name": "Ada"}}
    c = link.connect(3)
    assert c.awareness.states[a.awareness.client_id] == {"user": {"name": "Ada"}}

    out = link.server.disconnect(1)
    del link.clients[1]
    frames = {frame for _, frame in out.sends}
    assert len(frames) == 1, "one removal frame for everyone"
    assert sorted(conn for conn, _ in out.sends) == [2, 3]
    assert out.publish == list(frames)
    link.run(out)
    assert a.awareness.client_id not in b.awareness.states
    assert a.awareness.client_id not in c.awareness.states


def test_awareness_client_moving_to_a_new_connection_is_not_removed_by_the_old() -> None:
    """A reconnecting provider keeps its client id: its user's new socket takes the entry over
    before the old socket is seen to close."""
    server = DocumentSync()
    server.connect(1, writable=True, user=5)
    server.connect(2, writable=True, user=5)
    server.connect(9, writable=True, user=6)
    entry = AwarenessEntry(77, 1, json.dumps({"n": 1}))
    server.receive(1, awareness_frame(encode_awareness([entry])))
    server.receive(2, awareness_frame(encode_awareness([AwarenessEntry(77, 2, "{}")])))
    assert server.disconnect(1).sends == []
    removal = server.disconnect(2)
    [(_, frame)] = removal.sends
    assert decode_awareness(pycrdt.read_message(frame[1:])) == [AwarenessEntry(77, 3, "null")]


def test_another_users_connection_cannot_take_or_remove_a_client_id() -> None:
    server = DocumentSync()
    server.connect(1, writable=True, user=5)
    server.connect(2, writable=False, user=6)
    server.receive(1, awareness_frame(encode_awareness([AwarenessEntry(77, 1, '{"me":1}')])))
    spoof = server.receive(2, awareness_frame(encode_awareness([AwarenessEntry(77, 9, "{}")])))
    gone = server.receive(2, awareness_frame(encode_awareness([AwarenessEntry(77, 10, "null")])))
    assert spoof.sends == gone.sends == [] and server.awareness.state(77) == '{"me":1}'


def test_awareness_caps_and_coalescing_on_a_fake_clock() -> None:
    now = [0.0]
    limits = AwarenessLimits(max_clients=2, max_state_bytes=16, rate=2.0, burst=2.0)
    server = DocumentSync(limits=limits, clock=lambda: now[0])
    server.connect(1, writable=True)
    server.connect(2, writable=True)
    flood = [AwarenessEntry(i, 1, "{}") for i in range(3)]  # more entries than the cap
    assert server.receive(1, awareness_frame(encode_awareness(flood))).sends == []
    big = AwarenessEntry(4, 1, json.dumps({"x": "y" * 20}))
    assert server.receive(1, awareness_frame(encode_awareness([big]))).sends == []
    sent = [  # each a change of state (renewals wait anyway, rule 8)
        server.receive(1, awareness_frame(encode_awareness([AwarenessEntry(5, c, f"[{c}]")])))
        for c in (1, 2, 3, 4)
    ]
    # A burst of 2 (each to the other connection and back to its sender), then coalesced.
    assert [len(o.sends) for o in sent] == [2, 2, 0, 0]
    assert sent[-1].awareness_due == pytest.approx(0.5)
    now[0] = 0.5
    flushed = server.flush_awareness()
    assert sorted(conn for conn, _ in flushed.sends) == [1, 2]
    [frame] = {frame for _, frame in flushed.sends}
    assert decode_awareness(pycrdt.read_message(frame[1:])) == [AwarenessEntry(5, 4, "[4]")]


def test_query_awareness_answers_with_present_states() -> None:
    server = DocumentSync()
    server.connect(1, writable=True)
    server.receive(1, awareness_frame(encode_awareness([AwarenessEntry(5, 0, '{"a":1}')])))
    out = server.receive(1, bytes([MessageType.QUERY_AWARENESS]))
    [(conn, frame)] = out.sends
    assert conn == 1
    assert decode_awareness(pycrdt.read_message(frame[1:])) == [AwarenessEntry(5, 0, '{"a":1}')]


def test_local_awareness_frame_has_only_this_processes_clients() -> None:
    server = DocumentSync()
    server.connect(1, writable=True)
    assert server.local_awareness_frame() is None
    server.receive(1, awareness_frame(encode_awareness([AwarenessEntry(5, 1, '{"me":1}')])))
    server.receive_remote(awareness_frame(encode_awareness([AwarenessEntry(6, 1, "{}")])))
    frame = server.local_awareness_frame()
    assert frame is not None
    assert decode_awareness(pycrdt.read_message(frame[1:])) == [AwarenessEntry(5, 1, '{"me":1}')]


def test_awareness_echo_is_not_forwarded_and_a_newer_state_is() -> None:
    server = DocumentSync()
    for conn in (1, 2, 3):
        server.connect(conn, writable=True)
    state = awareness_frame(encode_awareness([AwarenessEntry(5, 1, '{"a":1}')]))
    first = server.receive(1, state)
    assert sorted(conn for conn, _ in first.sends) == [1, 2, 3]  # the sender too (rule 2)
    assert first.publish == [state]

    echo = server.receive(2, state)  # the stock provider re-sends what it applied
    assert echo.sends == [] and echo.publish == []

    newer = awareness_frame(encode_awareness([AwarenessEntry(5, 2, '{"a":2}')]))
    out = server.receive(1, newer)
    assert sorted(conn for conn, _ in out.sends) == [1, 2, 3]
    assert {frame for _, frame in out.sends} == {newer}
    assert out.publish == [newer]


def test_an_echo_stops_before_its_state_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    server = DocumentSync()
    for conn in (1, 2):
        server.connect(conn, writable=True)
    state = awareness_frame(encode_awareness([AwarenessEntry(5, 1, '{"a":1}')]))
    server.receive(1, state)
    parsed: list[str] = []
    real_loads = client_json.loads
    monkeypatch.setattr(
        "rooms.awareness.client_json.loads",
        lambda s, **kw: parsed.append(s) or real_loads(s, **kw),
    )
    assert server.receive(2, state).sends == []
    # The same clock with state null is a removal, which is news: it is parsed and passed on.
    removal = awareness_frame(encode_awareness([AwarenessEntry(5, 1, "null")]))
    assert sorted(conn for conn, _ in server.receive(1, removal).sends) == [1, 2]
    assert parsed == ["null"]
    # An echo changes nothing even when its state would not parse; news that does not parse
    # still closes the socket.
    broken = AwarenessEntry(5, 1, "{not json")
    assert server.receive(2, awareness_frame(encode_awareness([broken]))).sends == []
    with pytest.raises(ProtocolError, match="not JSON"):
        server.receive(1, awareness_frame(encode_awareness([AwarenessEntry(5, 2, "{no")])))
    assert server.awareness.state(5) is None  # still the removal


def test_a_frame_that_starts_like_an_echo_and_breaks_off_is_refused() -> None:
    server = DocumentSync()
    for conn in (1, 2):
        server.connect(conn, writable=True)
    echo = encode_awareness([AwarenessEntry(5, 1, '{"a":1}')])
    server.receive(1, awareness_frame(echo))
    # Two entries announced, the first an echo, the second cut off: a protocol error, as
    # before the echo check, and the table keeps what it had.
    two = encode_awareness([AwarenessEntry(5, 1, '{"a":1}'), AwarenessEntry(6, 9, "{}")])
    with pytest.raises(ProtocolError):
        server.receive(2, awareness_frame(two[:-3]))
    assert server.awareness.state(5) == '{"a":1}'
    assert server.awareness.state(6) is None


def test_awareness_frame_partly_echoed_is_forwarded_with_the_new_entries_only() -> None:
    server = DocumentSync()
    for conn in (1, 2):
        server.connect(conn, writable=True)
    old = AwarenessEntry(5, 1, '{"a":1}')
    server.receive(1, awareness_frame(encode_awareness([old])))
    fresh = AwarenessEntry(6, 0, '{"b":1}')
    out = server.receive(2, awareness_frame(encode_awareness([old, fresh])))
    assert sorted(conn for conn, _ in out.sends) == [1, 2]
    [frame] = {frame for _, frame in out.sends}
    assert _awareness_of(frame) == [fresh]
    assert out.publish == [frame]
    # Client 6 now belongs to connection 2, client 5 still to connection 1.
    [(_, removal)] = server.disconnect(2).sends
    assert _awareness_of(removal) == [AwarenessEntry(6, 1, "null")]


def test_remote_awareness_echo_is_not_passed_on_but_a_newer_state_is() -> None:
    server = DocumentSync()
    for conn in (1, 2):
        server.connect(conn, writable=True)
    state = awareness_frame(encode_awareness([AwarenessEntry(5, 1, '{"a":1}')]))
    assert sorted(conn for conn, _ in server.receive_remote(state).sends) == [1, 2]
    assert server.receive_remote(state).sends == []
    newer = awareness_frame(encode_awareness([AwarenessEntry(5, 2, "{}")]))
    assert {frame for _, frame in server.receive_remote(newer).sends} == {newer}


def test_a_renewal_in_a_room_of_echoing_clients_costs_n_frames() -> None:
    """Clients that re-send every awareness update they apply, as y-websocket 1.5.4 does: the
    n - 1 others once each, and the sender, which knows its own state already."""
    server = DocumentSync()
    n = 6
    known: dict[int, dict[int, int]] = {conn: {} for conn in range(n)}
    known[0] = {40: 3}
    for conn in range(n):
        server.connect(conn, writable=True)
    delivered = 0
    pending = deque([(0, awareness_frame(encode_awareness([AwarenessEntry(40, 3, "{}")])))])
    while pending:
        sender, frame = pending.popleft()
        for conn, sent in server.receive(sender, frame).sends:
            if sent[0] != MessageType.AWARENESS:
                continue
            delivered += 1
            entries = _awareness_of(sent)
            if any(e.clock > known[conn].get(e.client_id, -1) for e in entries):
                known[conn].update({e.client_id: e.clock for e in entries})
                pending.append((conn, sent))  # the echo
    assert delivered == n
    assert all(known[conn] == {40: 3} for conn in range(n))


# -- events the server raises itself: an edit, a resync ------------------------------------


def test_an_exact_echo_of_a_sent_frame_stops_before_it_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rule 6's memory: the frames a document sent (forwarded, greeting, removal, flushed,
    from the bus) are recognized byte for byte when clients send them back; once forgotten,
    an echo is still an echo, only found by reading the table."""
    server = DocumentSync()
    for conn in (1, 2, 3):
        server.connect(conn, writable=True)
    state = awareness_frame(encode_awareness([AwarenessEntry(5, 1, '{"a":1}')]))
    server.receive(1, state)
    [(_, greeting)] = [s for s in server.connect(4, writable=True).sends if s[1][0] == 1]
    remote = awareness_frame(encode_awareness([AwarenessEntry(8, 3, '{"b":2}')]))
    server.receive_remote(remote)
    read: list[bytes] = []
    real = server.awareness.only_echoes
    monkeypatch.setattr(server.awareness, "only_echoes", lambda p: read.append(p) or real(p))
    for conn, echo in ((2, state), (3, state), (4, greeting), (2, remote)):
        out = server.receive(conn, echo)
        assert out.sends == [] and out.publish == [] and out.awareness_due is None
    assert read == []

    # ECHO_MEMORY later frames push the first out: its echo is read, and still stops.
    for clock in range(2, 2 + ECHO_MEMORY):
        news = awareness_frame(encode_awareness([AwarenessEntry(5, clock, f'{{"a":{clock}}}')]))
        assert server.receive(1, news).sends
    read.clear()
    assert server.receive(2, state).sends == []
    assert read == [state[2:]]
    # A frame equal to none sent, with news in it, is passed on.
    newer = awareness_frame(encode_awareness([AwarenessEntry(5, 99, '{"a":2}')]))
    assert sorted(conn for conn, _ in server.receive(1, newer).sends) == [1, 2, 3, 4]


def test_a_big_greeting_is_not_remembered_and_its_echo_still_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memory keeps frames of at most ECHO_MAX_BYTES: the greeting of a room full of big
    states is not kept (a room's memory stays small), and its echo stops at the table."""
    server = DocumentSync()
    server.connect(1, writable=True)
    big = [AwarenessEntry(c, 1, json.dumps({"name": "x" * 1500})) for c in (5, 6, 7)]
    server.receive(1, awareness_frame(encode_awareness(big)))
    [(_, greeting)] = [s for s in server.connect(2, writable=True).sends if s[1][0] == 1]
    assert len(greeting) > ECHO_MAX_BYTES
    read: list[bytes] = []
    real = server.awareness.only_echoes
    monkeypatch.setattr(server.awareness, "only_echoes", lambda p: read.append(p) or real(p))
    assert server.receive(2, greeting).sends == []
    assert len(read) == 1


# -- rule 8: renewals wait and go out together ---------------------------------------------


def _renewal(client_id: int, clock: int, state: str) -> bytes:
    return awareness_frame(encode_awareness([AwarenessEntry(client_id, clock, state)]))


def test_renewals_wait_and_go_out_together_in_one_frame() -> None:
    now = [100.0]
    server = DocumentSync(clock=lambda: now[0])
    for conn in (1, 2, 3):
        server.connect(conn, writable=True)
    # First states are changes: they go at once, to everyone.
    for conn, cid in ((1, 5), (2, 6)):
        out = server.receive(conn, _renewal(cid, 1, f'{{"u":{cid}}}'))
        assert sorted(c for c, _ in out.sends) == [1, 2, 3] and out.awareness_due is None
    # The same states at a newer clock ("still here") wait, and count as news in the table.
    out = server.receive(1, _renewal(5, 2, '{"u":5}'))
    assert out.sends == [] and out.publish == [] and out.awareness_due == 100.0 + RENEWAL_HOLD
    now[0] = 101.0
    out = server.receive(2, _renewal(6, 2, '{"u":6}'))
    assert out.sends == [] and out.awareness_due == 100.0 + RENEWAL_HOLD
    assert server.receive(3, _renewal(5, 2, '{"u":5}')).sends == []  # an echo: nothing
    newcomer = server.connect(4, writable=True)  # greeted with the newest clocks
    [greeting] = [frame for _, frame in newcomer.sends if frame[0] == MessageType.AWARENESS]
    assert {(e.client_id, e.clock) for e in _awareness_of(greeting)} == {(5, 2), (6, 2)}

    now[0] = 100.0 + RENEWAL_HOLD - 0.01
    early = server.flush_awareness()
    assert early.sends == [] and early.awareness_due == 100.0 + RENEWAL_HOLD
    now[0] = 100.0 + RENEWAL_HOLD
    flushed = server.flush_awareness()
    assert sorted(c for c, _ in flushed.sends) == [1, 2, 3, 4]  # the owners too (rule 2)
    [frame] = {frame for _, frame in flushed.sends}
    assert _awareness_of(frame) == [
        AwarenessEntry(5, 2, '{"u":5}'),
        AwarenessEntry(6, 2, '{"u":6}'),
    ]
    assert flushed.publish == [frame] and flushed.awareness_due is None
    # Its echoes stop undecoded (rule 6), and nothing more is due.
    assert server.receive(3, frame).sends == []
    assert server.flush_awareness().sends == []


def test_a_change_or_a_departure_supersedes_a_held_renewal() -> None:
    now = [0.0]
    server = DocumentSync(clock=lambda: now[0])
    for conn in (1, 2, 3):
        server.connect(conn, writable=True)
    server.receive(1, _renewal(5, 1, '{"at":0}'))
    server.receive(2, _renewal(6, 1, '{"at":0}'))
    assert server.receive(1, _renewal(5, 2, '{"at":0}')).sends == []
    assert server.receive(2, _renewal(6, 2, '{"at":0}')).sends == []
    # Client 5 moves its cursor: that goes at once, and its held renewal is void.
    moved = server.receive(1, _renewal(5, 3, '{"at":9}'))
    assert sorted(c for c, _ in moved.sends) == [1, 2, 3]
    # Connection 2 leaves: its removal goes at once, and its renewal is void too.
    [(_, removal)] = [s for s in server.disconnect(2).sends if s[0] == 1]
    assert _awareness_of(removal) == [AwarenessEntry(6, 3, "null")]
    now[0] = RENEWAL_HOLD
    assert server.flush_awareness().sends == []
    assert server.awareness.state(5) == '{"at":9}' and server.awareness.state(6) is None


def test_with_no_hold_a_renewal_goes_out_at_the_next_flush() -> None:
    """CLASSROOM_AWARENESS_RENEWAL_HOLD_SECONDS=0: renewals are due at once, still in one
    frame per turn of the loop, and the connection's budget is not spent on them."""
    now = [50.0]
    server = DocumentSync(clock=lambda: now[0], limits=AwarenessLimits(renewal_hold=0.0))
    for conn in (1, 2):
        server.connect(conn, writable=True)
    server.receive(1, _renewal(5, 1, '{"u":5}'))
    out = server.receive(1, _renewal(5, 2, '{"u":5}'))
    assert out.sends == [] and out.awareness_due == 50.0
    flushed = server.flush_awareness()
    assert sorted(c for c, _ in flushed.sends) == [1, 2]
    [frame] = {frame for _, frame in flushed.sends}
    assert _awareness_of(frame) == [AwarenessEntry(5, 2, '{"u":5}')]


@pytest.mark.parametrize(("room", "batch"), [(20, 8), (40, 4), (100, 1)])
def test_a_hold_ends_once_its_renewals_would_reach_every_client_too_often(
    room: int, batch: int
) -> None:
    """A flush puts at most RENEWAL_SENDS states before the room's clients at one moment (a
    stock provider decodes them all and sends them back): a room of 20 gets 8 renewals per
    frame, one of 40 gets 4, one of 100 each at once (the reference's pace), where 8 to each
    of 100 made the load generator stall."""
    assert batch * room <= RENEWAL_SENDS < (batch + 1) * room
    now = [10.0]
    server = DocumentSync(clock=lambda: now[0])
    for conn in range(1, room + 1):
        server.connect(conn, writable=True)
        server.receive(conn, _renewal(100 + conn, 1, f'{{"u":{conn}}}'))
    now[0] = 30.0
    for conn in range(1, batch):
        out = server.receive(conn, _renewal(100 + conn, 2, f'{{"u":{conn}}}'))
        assert out.sends == [] and out.awareness_due == 30.0 + RENEWAL_HOLD
    out = server.receive(batch, _renewal(100 + batch, 2, f'{{"u":{batch}}}'))
    assert out.sends == [] and out.awareness_due == 30.0  # full: due at the next flush
    flushed = server.flush_awareness()
    assert len(flushed.sends) == room  # everyone, the senders too (rule 2)
    [frame] = {frame for _, frame in flushed.sends}
    assert [e.client_id for e in _awareness_of(frame)] == [100 + c for c in range(1, batch + 1)]
    # The next renewal starts a hold of its own.
    out = server.receive(batch + 1, _renewal(101 + batch, 2, f'{{"u":{batch + 1}}}'))
    assert out.awareness_due == (30.0 if batch == 1 else 30.0 + RENEWAL_HOLD)


def test_a_flood_of_renewals_is_held_to_the_connections_budget() -> None:
    """A hostile tab repeats the same state at ever newer clocks, as fast as it can. With
    renewals due at once (a hold of 0, or a full hold) each could make a frame to the whole
    room; they take from the connection's budget as changes do, so the room gets at most the
    burst, then the rate."""
    now = [0.0]
    limits = AwarenessLimits(rate=20.0, burst=40.0, renewal_hold=0.0)
    server = DocumentSync(clock=lambda: now[0], limits=limits)
    for conn in (1, 2):
        server.connect(conn, writable=True)
    server.receive(1, _renewal(5, 1, '{"u":5}'))
    frames_to_2 = 0
    for clock in range(2, 502):  # 500 renewals in the same instant
        out = server.receive(1, _renewal(5, clock, '{"u":5}'))
        frames_to_2 += sum(1 for c, _ in out.sends if c == 2)
        if out.awareness_due is not None and out.awareness_due <= now[0]:
            frames_to_2 += sum(1 for c, _ in server.flush_awareness().sends if c == 2)
    assert frames_to_2 <= limits.burst
    # The newest state still reaches the other connection once the budget allows.
    now[0] = 1.0
    last = [frame for c, frame in server.flush_awareness().sends if c == 2]
    assert last and _awareness_of(last[-1])[-1].clock == 501


def test_a_cursor_carries_its_users_name_whatever_the_client_says() -> None:
    """Rule 11: Alice's own client labels her cursor "Ms. Smith"; the table keeps, and the
    others and a late joiner get, her own name. A state without ``user`` passes as sent."""
    server = DocumentSync()
    server.connect(1, writable=True, user=5, name="Alice")
    server.connect(2, writable=True, user=6, name="Ada")
    lie = {"user": {"name": "Ms. Smith", "color": "#f00"}, "cursor": {"head": 4}}
    out = server.receive(
        1, awareness_frame(encode_awareness([AwarenessEntry(77, 1, json.dumps(lie))]))
    )
    [frame] = {frame for _, frame in out.sends}
    [sent] = decode_awareness(pycrdt.read_message(frame[1:]))
    truth = {"user": {"name": "Alice", "color": "#f00"}, "cursor": {"head": 4}}
    assert json.loads(sent.state) == truth
    assert out.publish == [frame]  # other processes get the truth too
    greeting = server.connect(3, writable=True, user=7, name="Bob").sends[-1][1]
    [known] = decode_awareness(pycrdt.read_message(greeting[1:]))
    assert json.loads(known.state) == truth
    # Ada's state without a user, and Alice's next honest one, go out as they came.
    plain = awareness_frame(encode_awareness([AwarenessEntry(88, 1, '{"cursor":null}')]))
    assert {f for _, f in server.receive(2, plain).sends} == {plain}
    honest = json.dumps({**truth, "cursor": {"head": 5}})
    frame = awareness_frame(encode_awareness([AwarenessEntry(77, 2, honest)]))
    assert {f for _, f in server.receive(1, frame).sends} == {frame}
