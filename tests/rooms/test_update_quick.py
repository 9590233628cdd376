"""rooms/update_check.py rule 5: the common shapes of an update (a typed piece of text, a map
entry set anew, a selection typed over, a backspace) are read quickly, and exactly as the full
reading reads them: the same reading, or the same refusal."""

from __future__ import annotations

import random
import struct
from typing import Any

import pycrdt
import pytest

from rooms.exceptions import ProtocolError
from rooms.update_check import CLOCK_LIMIT, MAX_ANY_DEPTH, _quick, read_update
from rooms.varint import write_var_string, write_var_uint


class _Plan:
    """With a plan, read_update reads every update in full (rule 5 is for updates read
    without one)."""

    def struct(self, client: int, clock: int, start: int, end: int) -> None:
        pass

    def deleted(self, client: int, clock: int, length: int) -> None:
        pass


def _outcome(update: bytes, *, full: bool, limit: int = MAX_ANY_DEPTH) -> object:
    try:
        return read_update(update, limit, plan=_Plan() if full else None)
    except ProtocolError:
        return "refused"


def _var_int(value: int) -> bytes:
    """lib0's writeVarInt: a sign bit and six bits in the first byte, seven in the others."""
    magnitude = abs(value)
    first = (magnitude & 0x3F) | (0x40 if value < 0 else 0)
    magnitude >>= 6
    out = bytearray([first | (0x80 if magnitude else 0)])
    while magnitude:
        byte = magnitude & 0x7F
        magnitude >>= 7
        out.append(byte | (0x80 if magnitude else 0))
    return bytes(out)


def write_any(value: Any) -> bytes:
    """lib0's writeAny, as a browser's Yjs writes a map entry's or an array's value."""
    if value is None:
        return b"\x7e"
    if value is True:
        return b"\x78"
    if value is False:
        return b"\x79"
    if isinstance(value, int):
        if abs(value) <= 2**31 - 1:
            return b"\x7d" + _var_int(value)
        return b"\x7b" + struct.pack(">d", value)
    if isinstance(value, float):
        if abs(value) < 3e38 and struct.unpack(">f", struct.pack(">f", value))[0] == value:
            return b"\x7c" + struct.pack(">f", value)
        return b"\x7b" + struct.pack(">d", value)
    if isinstance(value, str):
        return b"\x77" + write_var_string(value)
    if isinstance(value, bytes):
        return b"\x74" + write_var_uint(len(value)) + value
    if isinstance(value, list):
        return b"\x75" + write_var_uint(len(value)) + b"".join(write_any(v) for v in value)
    if isinstance(value, dict):
        entries = (write_var_string(k) + write_any(v) for k, v in value.items())
        return b"\x76" + write_var_uint(len(value)) + b"".join(entries)
    raise TypeError(value)


def _value(rng: random.Random, depth: int = 0) -> Any:
    """A value of every kind Yjs writes, arrays and objects of them among others."""
    kind = rng.randrange(13 if depth < 2 else 9)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, 5, -5, 63, 64, 2**20, -(2**27), 2**31 - 1, -(2**31) + 1])
    if kind == 2:
        return rng.choice([2**31, -(2**40), 2**53])  # floats of 64 bits in lib0
    if kind == 3:
        return rng.choice([0.5, -1.25, 1e300, 0.1, 123.456])
    if kind in (4, 5):
        return rng.choice(["", "x", "ü€", "🙂", "w" * 127, "w" * 128, "line\n" * 40])
    if kind == 6:
        return rng.choice([b"", b"\x00\x7f\xff"])
    if kind in (7, 8):
        return rng.choice([7, 1.5, "ok", None])
    if kind in (9, 10):
        size = rng.choice([0, 1, 3, 3, 5, 127, 128])
        return [_value(rng, depth + 1) for _ in range(size)]
    if kind == 11:  # the fan-out benchmark's entry: a sequence number, a time, a flag
        return [rng.randrange(2**20), rng.random() * 1e6, rng.random() < 0.5]
    return {f"k{i}": _value(rng, depth + 1) for i in range(rng.randint(0, 3))}


_CLOCKS = (0, 1, 5, 127, 128, 2**21, 2**28 - 2, 2**28 - 1, 2**28, CLOCK_LIMIT - 2, CLOCK_LIMIT)
_CLIENTS = (7, 200, 2**31 + 5, 2**53 - 3, 2**56 + 1)
_ORIGIN_BITS = (0x80, 0xA0, 0x40, 0x60, 0xC0, 0xE0, 0x00, 0x20)


def _number(rng: random.Random, choices: tuple[int, ...], common: bool) -> bytes:
    """One of ``choices``, or (``common``) what a client of a lesson has: its first few."""
    return write_var_uint(rng.choice(choices[:3] if common else choices))


def _id(rng: random.Random, common: bool) -> bytes:
    return _number(rng, _CLIENTS, common) + _number(rng, _CLOCKS, common)


def _delete_set(rng: random.Random, common: bool) -> bytes:
    """No deleted range, one (the common case), or more; of every size, some out of bounds."""
    kind = rng.randrange(4 if common else 6)
    if kind <= 1:
        return b"\x00"
    lengths = [1, 3] if common else [0, 1, 1, 3, 127, 128, 2**28]
    ranges = [(rng.choice(_CLOCKS[:3] if common else _CLOCKS), rng.choice(lengths))]
    if kind == 5:
        ranges.append((ranges[0][0] + rng.choice([0, 200]), rng.choice([0, 1])))
    body = write_var_uint(len(ranges)) + b"".join(
        write_var_uint(start) + write_var_uint(length) for start, length in ranges
    )
    clients = 2 if kind == 4 else 1
    return write_var_uint(clients) + (_number(rng, _CLIENTS, common) + body) * clients


def shaped(rng: random.Random) -> bytes:
    """An update of one of rule 5's shapes, or one near it: a text or a value item with
    origins (or without: a map entry's parent and key), a deleted range alone. Half of them
    with the numbers of a lesson's clients, the others with any."""
    common = rng.random() < 0.5
    if rng.random() < 0.15:
        return b"\x00" + _delete_set(rng, common)
    bits = rng.choice(_ORIGIN_BITS[:6] if common else _ORIGIN_BITS)
    text = rng.random() < 0.5
    info = bytes([bits | (4 if text else 8)])
    ids = b""
    if bits & 0x80:
        ids += _id(rng, common)
    if bits & 0x40:
        ids += _id(rng, common)
    if not bits & 0xC0:
        ids += write_var_uint(1) + write_var_string("m") + write_var_string("key")
    if text:
        content = write_var_string(rng.choice(["a", "é", "日本", "🙂", "x" * 127, "x" * 128, ""]))
    else:
        count = rng.choice([1, 1, 1, 1, 2, 0])
        content = write_var_uint(count) + b"".join(write_any(_value(rng)) for _ in range(count))
    head = b"\x01\x01" + _number(rng, _CLIENTS, common) + _number(rng, _CLOCKS, common)
    return head + info + ids + content + _delete_set(rng, common)


@pytest.mark.parametrize("seed", range(4))
def test_every_shape_is_read_quickly_as_in_full(seed: int) -> None:
    rng = random.Random(seed)
    taken: dict[tuple[int, int, int], int] = {}
    for _ in range(3_000):
        update = shaped(rng)
        quick = _quick(update, MAX_ANY_DEPTH)
        full = _outcome(update, full=True)
        assert _outcome(update, full=False) == full, update.hex()
        if quick is not None:
            assert quick == full, update.hex()
            shape = (len(quick.clients), quick.units, quick.deepest)
            taken[shape] = taken.get(shape, 0) + 1
    # Each shape is taken: a deleted range alone; one struct with or without a deleted range,
    # at no depth and in one array.
    assert {(0, 1, 0), (1, 1, 0), (1, 2, 0), (1, 1, 1), (1, 2, 1)} <= set(taken), taken


@pytest.mark.parametrize("seed", range(2))
def test_a_damaged_update_of_every_shape_is_read_as_in_full(seed: int) -> None:
    """Nothing the full reading refuses is taken, nor read otherwise: every byte of updates
    that take the quick reading changed, each cut short and lengthened, each read with a
    limit of no depth."""
    rng = random.Random(seed)
    updates: list[bytes] = []
    while len(updates) < 40:
        update = shaped(rng)
        if _quick(update, MAX_ANY_DEPTH) is not None and len(update) < 80:
            updates.append(update)
    taken = 0
    for update in updates:
        damaged = [update[:cut] for cut in range(len(update))]
        damaged += [update + extra for extra in (b"\x00", b"\x01", b"x\x00")]
        for at in range(len(update)):
            for byte in (0x00, 0x01, 0x04, 0x08, 0x75, 0x77, 0x7D, 0x7F, 0x80, 0xFF):
                damaged.append(update[:at] + bytes([byte]) + update[at + 1 :])
        for bad in damaged:
            taken += _quick(bad, MAX_ANY_DEPTH) is not None
            assert _outcome(bad, full=False) == _outcome(bad, full=True), bad.hex()
        assert _outcome(update, full=False, limit=0) == _outcome(update, full=True, limit=0)
    assert taken  # some changes leave one of the shapes (another value, another clock)


def test_numbers_of_two_bytes_are_not_read_as_one() -> None:
    """A length or a count of 128 or more takes two bytes; read as its first alone, each of
    these would end where the full reading refuses it."""
    head = b"\x01\x01\x07\x05\x88\x07\x04\x01"  # client 7's value after its clock 4
    long_string = b"\x77" + write_var_uint(128) + b"w" * 127 + b"\x00"  # ends: no delete set
    many_nulls = b"\x75" + write_var_uint(0x7E << 7) + b"\x7e" * 127 + b"\x00"  # then \x00
    for update in (head + long_string, head + many_nulls):
        assert _outcome(update, full=True) == "refused"
        assert _outcome(update, full=False) == "refused"
    # A number of eleven bytes is refused; of six, read (in full: the quick reading takes five).
    for size, outcome in ((11, "refused"), (6, (0, 1, [7]))):
        number = b"\x7d" + b"\xff" * (size - 1) + b"\x01"
        assert _outcome(head + number + b"\x00", full=False) == outcome
        assert _outcome(head + number + b"\x00", full=True) == outcome


def test_what_people_do_in_a_document_is_read_quickly() -> None:
    """A stock client's own updates: typing, a backspace, a selection typed over, a map
    entry set again and again (the fan-out benchmark's): each read as in full, and the
    common ones quickly."""
    rng = random.Random(5)
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=2**31 + 5)
    text = doc.get("text", type=pycrdt.Text)
    cursors = doc.get("m", type=pycrdt.Map)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    text.insert(0, "hello world")
    for step in range(300):
        kind = rng.randrange(4)
        if kind == 0:
            text.insert(rng.randrange(len(text) + 1), rng.choice("ab x\n"))
        elif kind == 1 and len(text) > 2:
            at = rng.randrange(len(text))
            del text[at : at + 1]
        elif kind == 2 and len(text) > 4:
            at = rng.randrange(len(text) - 3)
            with doc.transaction():
                del text[at : at + 3]
                text.insert(at, "x")
        else:
            cursors["me"] = [step, 1234.5678 + step, step % 2 == 0]
    quick = 0
    for update in updates:
        assert _outcome(update, full=False) == _outcome(update, full=True), update.hex()
        quick += _quick(update, MAX_ANY_DEPTH) is not None
    assert quick > len(updates) * 0.9
