"""rooms/update_check.py: a client's Yjs update read in full before yrs decodes it, refused
unless a stock Yjs client could have written it and every browser can decode it."""

from __future__ import annotations

import random
from typing import Any

import pycrdt
import pytest

from rooms.exceptions import ProtocolError
from rooms.update_check import (
    CLOCK_LIMIT,
    MAX_ANY_DEPTH,
    _quick,
    check_update,
    read_update,
)
from rooms.varint import decode_state_vector, write_var_string, write_var_uint
from tests.support.updates import (
    PANIC_CLOCK,
    any_item_update,
    map_entry,
    merging_run,
    nested_arrays,
    null_values,
    one_client,
    one_string,
    text_insert,
)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


def random_value(rng: random.Random, depth: int) -> Any:
    """A value of exactly ``depth`` nested arrays and objects, with every kind of leaf."""
    if depth == 0:
        return rng.choice(
            [None, True, False, 7, -3, 2**40, -(2**52), 0.25, -1e300, "uv" * rng.randint(0, 40),
             "", b"\x75\x76" * rng.randint(0, 5), "ü€"]
        )  # fmt: skip
    inner = random_value(rng, depth - 1)
    siblings = [random_value(rng, rng.randint(0, depth - 1)) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.5:
        items = [*siblings, inner]
        rng.shuffle(items)
        return items
    value = {f"k{i}": v for i, v in enumerate(siblings)}
    value["deep"] = inner
    return value


def test_deeper_than_the_limit_is_refused_without_decoding() -> None:
    assert read_update(any_item_update(nested_arrays(MAX_ANY_DEPTH))).deepest == MAX_ANY_DEPTH
    check_update(any_item_update(nested_arrays(MAX_ANY_DEPTH)))
    with pytest.raises(ProtocolError, match="deeper than 64 levels"):
        check_update(any_item_update(nested_arrays(MAX_ANY_DEPTH + 1)))
    # 100,000 levels take a yrs decoder's stack down with the process: never handed to it.
    with pytest.raises(ProtocolError, match="deeper than 64 levels"):
        check_update(any_item_update(nested_arrays(100_000)))
    objects = b"\x76\x01\x01a" * 100 + b"\x7f"
    with pytest.raises(ProtocolError, match="deeper"):
        check_update(any_item_update(objects))


def test_truncated_and_unknown_values_are_refused() -> None:
    string = b"\x77" + write_var_string("u" * 100)
    check_update(any_item_update(string))
    with pytest.raises(ProtocolError, match="ends inside"):
        check_update(any_item_update(string)[:-10])
    with pytest.raises(ProtocolError, match="unknown type 99"):
        check_update(any_item_update(b"\x75\x02\x63\x7e"))
    # Numbers in arrays and objects are read in place: each must still be all there.
    numbers = b"\x75\x04\x7e\x7c" + bytes(4) + b"\x76\x01\x01k\x7b" + bytes(8) + b"\x7a" + bytes(8)
    assert read_update(any_item_update(numbers)).deepest == 2
    for cut in (b"\x75\x01\x7b" + bytes(3), b"\x76\x01\x01k\x7c" + bytes(1)):
        with pytest.raises(ProtocolError, match="ends inside"):
            check_update(any_item_update(cut))  # the delete set's byte is no number's


@pytest.mark.parametrize("kind", [9, 15])
def test_a_shared_type_yjs_cannot_decode_is_refused(kind: int) -> None:
    # yrs takes these ten bytes; every browser's applyUpdate throws on them, and once stored
    # they are in the state every newcomer is sent: nobody could open the file again.
    update = one_client(bytes([7]) + b"\x01\x01m" + write_var_uint(kind))
    pycrdt.Doc().apply_update(update)
    with pytest.raises(ProtocolError, match=f"shared type of unknown kind {kind}"):
        check_update(update)


def test_clocks_yrs_cannot_hold_are_refused_before_it_panics() -> None:
    check_update(text_insert(77, 0, "hello world"))
    check_update(text_insert(77, CLOCK_LIMIT - 5, "hello"))  # ends at the limit
    with pytest.raises(ProtocolError, match="clock past"):
        check_update(text_insert(77, CLOCK_LIMIT - 4, "hello"))
    with pytest.raises(ProtocolError, match="clock past"):
        check_update(text_insert(77, PANIC_CLOCK, "hello"))
    # A string's UTF-8 bytes bound its UTF-16 length from above: "é" is 2 bytes, 1 unit.
    with pytest.raises(ProtocolError, match="clock past"):
        check_update(text_insert(77, CLOCK_LIMIT - 1, "é"))
    origin_past = one_client(
        bytes([0x84]) + write_var_uint(77) + write_var_uint(CLOCK_LIMIT) + write_var_string("x")
    )
    with pytest.raises(ProtocolError, match="refers to a clock past"):
        check_update(origin_past)


def test_what_yjs_never_writes_is_refused() -> None:
    # A client block with no structs, an empty string, GC or deletion.
    no_structs = write_var_uint(1) + b"\x00" + write_var_uint(77) + b"\x00\x00"
    empty_string = one_client(bytes([4]) + b"\x01\x04text" + write_var_string(""))
    empty_gc = one_client(b"\x00\x00")
    for update in (no_structs, empty_string, empty_gc):
        with pytest.raises(ProtocolError, match=r"no structs|empty struct"):
            check_update(update)

    # Deleted ranges: each client's are sorted, apart, and none is empty.
    def deleting(*ranges: tuple[int, int]) -> bytes:
        body = b"".join(write_var_uint(c) + write_var_uint(n) for c, n in ranges)
        return b"\x00\x01" + write_var_uint(77) + write_var_uint(len(ranges)) + body

    check_update(deleting((0, 2), (2, 3), (9, 1)))
    for bad in [((4, 2), (0, 1)), ((0, 3), (2, 2)), ((0, 0),), ((CLOCK_LIMIT - 1, 2),)]:
        with pytest.raises(ProtocolError, match="deletes ranges"):
            check_update(deleting(*bad))


@pytest.mark.parametrize("seed", range(40))
def test_real_updates_are_read_exactly(seed: int) -> None:
    rng = random.Random(seed)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    root = doc.get("m", type=pycrdt.Map)
    text = doc.get("text", type=pycrdt.Text)
    array = doc.get("a", type=pycrdt.Array)
    deepest = 0
    for step in range(rng.randint(1, 12)):
        depth = rng.randint(0, 12)
        value = random_value(rng, depth)
        assert depth_of(value) == depth
        kind = rng.randrange(6)
        if kind in (0, 1, 4):  # the kinds that store the value
            deepest = max(deepest, depth)
        if kind == 0:
            root[f"v{step}"] = value
        elif kind == 1:
            array.append(value)
        elif kind == 2:
            text.insert(rng.randint(0, len(text)), "uvw{[" * rng.randint(1, 30))
            if len(text) > 4:
                text.format(1, 3, {"bold": True, "attrs": {"n": [1, {"x": None}]}})
            if len(text) > 8:
                del text[2:5]
        elif kind == 3:
            text.insert_embed(rng.randint(0, len(text)), {"image": {"src": "a.png", "w": [1, 2]}})
        elif kind == 4:
            array.append(pycrdt.Map({"inner": value, "t": pycrdt.Text("uv")}))
        else:
            fragment = pycrdt.XmlFragment()
            array.append(fragment)
            fragment.children.append(pycrdt.XmlElement("p", {"class": "x"}, ["uv"]))
            fragment.children.append(pycrdt.XmlText("uvuv"))
    update = doc.get_update()
    assert read_update(update, limit=20).deepest == deepest
    if deepest:
        with pytest.raises(ProtocolError):
            read_update(update, limit=deepest - 1)
    # And each transaction's own update, as a client sends them.
    other: pycrdt.Doc[Any] = pycrdt.Doc()
    updates: list[bytes] = []
    other.observe(lambda event: updates.append(event.update))
    other.apply_update(update)
    assert updates and all(read_update(u, limit=20).deepest <= deepest for u in updates)


def test_a_subdocument_and_every_number_kind_are_read() -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    root = doc.get("m", type=pycrdt.Map)
    root["sub"] = pycrdt.Doc()
    root["n"] = [0.5, 3, -(2**62), 2**53 + 1, [[["x"]]]]
    update = doc.get_update()
    assert read_update(update).deepest == 4


def test_named_types_are_read_past_their_name() -> None:
    """An XML element and an XML hook (Yjs writes the hook, pycrdt cannot make one) carry a
    name after their kind; the value after them is read where it starts."""
    update = one_client(
        map_entry(7, "e") + write_var_uint(3) + write_var_string("p"),
        map_entry(7, "h") + write_var_uint(5) + write_var_string("hk"),
        map_entry(8, "k") + write_var_uint(1) + nested_arrays(3),
    )
    pycrdt.Doc().apply_update(update)  # what yrs reads too
    assert read_update(update).deepest == 3


def test_hostile_counts_end_with_the_update() -> None:
    # A million structs announced, one given: the reading stops at the end of the bytes.
    update = write_var_uint(1) + write_var_uint(10**6) + b"\x01\x00" + b"\x00\x01"
    with pytest.raises(ProtocolError):
        read_update(update)
    huge_array = any_item_update(b"\x75" + write_var_uint(2**50) + b"\x7e" * 3)
    with pytest.raises(ProtocolError):
        read_update(huge_array)
    with pytest.raises(ProtocolError, match="unknown content"):
        read_update(write_var_uint(1) + b"\x01\x07\x00" + b"\x0b\x01\x01m\x00")
    with pytest.raises(ProtocolError, match="unknown kind"):
        read_update(write_var_uint(1) + b"\x01\x07\x00" + b"\x07\x01\x01m\x07")
    with pytest.raises(ProtocolError, match="number"):
        read_update(b"\xff" * 12)


def test_runs_yrs_would_merge_one_pair_at_a_time_are_bounded() -> None:
    """Rule 3: a run of items each after the last character of the one before, which yrs merges
    in time and memory that grow with the square of the run (10,000 values: 1.4 s, 2.3 GB)."""
    with pytest.raises(ProtocolError, match="too many for the server to merge"):
        check_update(merging_run(9, [null_values()] * 1_000))
    with pytest.raises(ProtocolError, match="merge"):
        check_update(merging_run(9, [null_values(100)] * 100, units=100))
    with pytest.raises(ProtocolError, match="merge"):
        check_update(merging_run(9, [one_string("a")] * 10_000))
    with pytest.raises(ProtocolError, match="merge"):
        check_update(merging_run(9, [one_string("a" * 100)] * 1_000, units=100))
    # Runs of two, each merge cheap: yrs still takes every merged block out of the client's
    # list one at a time (20,000 merges in 40,000 blocks).
    pairs = [one_string("a"), one_string("b"), null_values(), null_values()] * 10_000
    with pytest.raises(ProtocolError, match="merge"):
        check_update(merging_run(9, pairs))

    # Shorter runs pass, and are what yrs takes.
    for update in (
        merging_run(9, [null_values()] * 300),
        merging_run(9, [one_string("a")] * 2_000),
        merging_run(9, [one_string("a" * 100)] * 100, units=100),
        merging_run(9, pairs[:2_000]),
    ):
        check_update(update)
        pycrdt.Doc().apply_update(update)
    # Items that never merge cost nothing here, however many: alternating kinds, or each
    # after the first character (the last typed comes first).
    alternating = [one_string("a"), b"\x01\x01"] * 20_000
    check_update(merging_run(9, alternating))
    first = b"\x04\x01" + write_var_string("text") + write_var_string("a")
    after_the_first = bytes([0x84]) + b"\x07\x00" + write_var_string("a")  # client 7's
    update = one_client(first, *[after_the_first] * 20_000)
    check_update(update)
    pycrdt.Doc().apply_update(update)


@pytest.mark.parametrize("seed", range(12))
def test_two_people_typing_at_one_place_pass(seed: int) -> None:
    """What stock clients send when two people type at the same place at once and delete
    what they typed: their runs interleave, each piece after its own last character, never
    merged (another's text sits between them), so rule 3 must let all of it through."""
    rng = random.Random(seed)
    docs: list[pycrdt.Doc[Any]] = [pycrdt.Doc(), pycrdt.Doc()]
    sent: list[list[bytes]] = [[], []]
    for who, doc in enumerate(docs):
        doc.get("text", type=pycrdt.Text)
        doc.observe(lambda event, who=who: sent[who].append(event.update))
    cursor = 0
    for _ in range(1_500):
        who = rng.randrange(2)
        text = docs[who].get("text", type=pycrdt.Text)
        cursor = min(cursor, len(text))
        if rng.random() < 0.15 and cursor > 0:
            del text[cursor - 1 : cursor]
            cursor -= 1
        else:
            text.insert(cursor, rng.choice("ab\n"))
            cursor += rng.random() < 0.5  # now one, now the other, is ahead
        if rng.random() < 0.3:  # the other side receives what was sent so far
            other = 1 - who
            for update in sent[who]:
                docs[other].apply_update(update)
            sent[who].clear()
    for who in (0, 1):
        for update in sent[who]:
            check_update(update)
            docs[1 - who].apply_update(update)
    assert str(docs[0].get("text", type=pycrdt.Text)) == str(docs[1].get("text", type=pycrdt.Text))
    # The whole document, and each side's part of it, as a reconnecting client sends them.
    check_update(docs[0].get_update())
    for doc in docs:
        for client in list(_clients(doc)):
            check_update(doc.get_update(_state_without(doc, client)))


def _clients(doc: pycrdt.Doc[Any]) -> dict[int, int]:
    """The document's state vector: client -> clock."""
    return decode_state_vector(doc.get_state())


def _state_without(doc: pycrdt.Doc[Any], client: int) -> bytes:
    """A state vector that has everything of the document but ``client``'s items."""
    rest = {c: k for c, k in _clients(doc).items() if c != client}
    body = b"".join(write_var_uint(c) + write_var_uint(k) for c, k in rest.items())
    return write_var_uint(len(rest)) + body


class _Plan:
    """A plan that only listens: with one, read_update reads every update in full (rule 5's
    quick reading is for updates read without a plan)."""

    def struct(self, client: int, clock: int, start: int, end: int) -> None:
        pass

    def deleted(self, client: int, clock: int, length: int) -> None:
        pass


def _outcome(update: bytes, *, full: bool) -> object:
    """What reading ``update`` gives: its Reading, or the refusal."""
    try:
        return read_update(update, plan=_Plan() if full else None)
    except ProtocolError:
        return "refused"


def _keystrokes(seed: int, count: int = 300) -> list[bytes]:
    """The updates of people typing (one character at a time, now and then a word, letters
    of one to four UTF-8 bytes, at the end, at the start, in the middle) and deleting."""
    rng = random.Random(seed)
    updates: list[bytes] = []
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=rng.choice([7, 2**31 + 5, 2**53 - 3]))
    text = doc.get("text", type=pycrdt.Text)
    doc.observe(lambda event: updates.append(event.update))
    for _ in range(count):
        where = rng.choice([len(text), 0, rng.randrange(len(text) + 1)])
        if rng.random() < 0.1 and str(text)[:1] == "x":
            del text[0:1]
        else:
            text.insert(where, rng.choice(["x", "é", "日", "🙂", "word ", "\n"]))
    return updates


@pytest.mark.parametrize("seed", range(3))
def test_a_keystroke_is_read_quickly_and_as_in_full(seed: int) -> None:
    """Rule 5: typing's updates take the quick reading, which gives what the full one does."""
    updates = _keystrokes(seed)
    quick = [update for update in updates if _quick(update, MAX_ANY_DEPTH) is not None]
    assert len(quick) > len(updates) * 0.7  # the deletes and the first insertion are not
    for update in updates:
        assert _outcome(update, full=False) == _outcome(update, full=True)


@pytest.mark.parametrize("seed", range(2))
def test_a_damaged_keystroke_is_read_as_in_full(seed: int) -> None:
    """Rule 5 takes nothing the full reading refuses and reads nothing otherwise: every byte
    of typed updates changed, each update cut short and lengthened."""
    rng = random.Random(seed)
    updates = [u for u in _keystrokes(seed, 60) if _quick(u, MAX_ANY_DEPTH) is not None]
    taken = 0
    for update in rng.sample(updates, 12):
        damaged = [update[:cut] for cut in range(len(update))]
        damaged += [update + extra for extra in (b"\x00", b"\x01", b"x\x00")]
        for at in range(len(update)):
            for byte in {0x00, 0x01, 0x05, 0x7F, 0x80, 0x84, 0xC4, 0xE4, 0xFF, update[at] ^ 0x80}:
                damaged.append(update[:at] + bytes([byte]) + update[at + 1 :])
        for bad in damaged:
            taken += _quick(bad, MAX_ANY_DEPTH) is not None
            assert _outcome(bad, full=False) == _outcome(bad, full=True), bad.hex()
    assert taken  # some changes leave a keystroke (another letter, another clock)


def test_a_keystroke_at_the_clock_limit_is_refused() -> None:
    """Rule 5 leaves a clock of five bytes to the full reading, which refuses one past
    CLOCK_LIMIT, as an origin pointing past it."""
    client = write_var_uint(7)
    for clock, origin in ((CLOCK_LIMIT - 1, 0), (0, CLOCK_LIMIT), (CLOCK_LIMIT - 3, 1)):
        update = (
            b"\x01\x01" + client + write_var_uint(clock)
            + b"\x84" + client + write_var_uint(origin)
            + write_var_string("ab") + b"\x00"
        )  # fmt: skip
        assert _quick(update, MAX_ANY_DEPTH) is None
        if clock + 2 > CLOCK_LIMIT or origin >= CLOCK_LIMIT:
            with pytest.raises(ProtocolError):
                read_update(update)
        else:
            assert read_update(update).units == 1
