"""rooms/sync_output.py: an Output keeps a lone broadcast as one entry, and spells it out, in
order with everything else, to whoever reads its sends."""

from __future__ import annotations

from rooms.sync_output import Output


def test_a_broadcast_is_sent_to_the_recipients_of_its_moment_but_one() -> None:
    connections = {1: None, 2: None, 3: None}
    out = Output()
    out.broadcast(connections, b"update", but=2)
    assert out.group == ((1, 2, 3), b"update", 2)
    connections[4] = None  # joins after: not a recipient
    del connections[1]
    assert out.sends == [(1, b"update"), (3, b"update")]
    assert out.group is None


def test_sends_keep_their_order_around_a_broadcast() -> None:
    out = Output()
    out.broadcast([1, 2], b"a")
    out.sends.append((2, b"b"))
    out.broadcast([1, 2], b"c", but=1)
    assert out.group is None
    assert out.sends == [(1, b"a"), (2, b"a"), (2, b"b"), (2, b"c")]

    first = Output()
    first.sends.append((1, b"step1"))
    first.broadcast([1, 2], b"d")
    assert first.group is None  # not its only sends
    assert first.sends == [(1, b"step1"), (1, b"d"), (2, b"d")]
