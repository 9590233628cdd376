"""rooms/nesting.py: the depth of "any" values in a Yjs update, read before yrs decodes it."""

from __future__ import annotations

import random
from typing import Any

import pycrdt
import pytest

from rooms.exceptions import ProtocolError
from rooms.nesting import MAX_ANY_DEPTH, check_nesting, nesting_depth
from rooms.varint import write_var_string, write_var_uint
from tests.support.updates import any_item_update, map_entry, nested_arrays, one_client


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
    assert nesting_depth(any_item_update(nested_arrays(MAX_ANY_DEPTH))) == MAX_ANY_DEPTH
    check_nesting(any_item_update(nested_arrays(MAX_ANY_DEPTH)))
    with pytest.raises(ProtocolError, match="deeper than 64 levels"):
        check_nesting(any_item_update(nested_arrays(MAX_ANY_DEPTH + 1)))
    # 100,000 levels take a yrs decoder's stack down with the process: never handed to it.
    with pytest.raises(ProtocolError, match="deeper than 64 levels"):
        check_nesting(any_item_update(nested_arrays(100_000)))
    objects = b"\x76\x01\x01a" * 100 + b"\x7f"
    with pytest.raises(ProtocolError, match="deeper"):
        check_nesting(any_item_update(objects))


def test_the_bytes_of_nesting_decide_whether_an_update_is_read() -> None:
    # Twenty levels of arrays in a truncated update: too few tag bytes to nest past 64, so
    # passed unread (yrs refuses it with a ValueError, as before).
    check_nesting(any_item_update(nested_arrays(20))[:-5])
    # A hundred of those bytes inside one string: read, found truncated, refused.
    string = b"\x77" + write_var_string("u" * 100)
    check_nesting(any_item_update(string))
    with pytest.raises(ProtocolError, match="ends inside"):
        check_nesting(any_item_update(string)[:-10])
    with pytest.raises(ProtocolError, match="unknown type 99"):
        check_nesting(any_item_update(b"\x75\x02\x63" + b"\x75" * 70))


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
    assert nesting_depth(update, limit=20) == deepest
    if deepest:
        with pytest.raises(ProtocolError):
            nesting_depth(update, limit=deepest - 1)
    # And each transaction's own update, as a client sends them.
    other: pycrdt.Doc[Any] = pycrdt.Doc()
    updates: list[bytes] = []
    other.observe(lambda event: updates.append(event.update))
    other.apply_update(update)
    assert updates and all(nesting_depth(u, limit=20) <= deepest for u in updates)


def test_a_subdocument_and_every_number_kind_are_read() -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    root = doc.get("m", type=pycrdt.Map)
    root["sub"] = pycrdt.Doc()
    root["n"] = [0.5, 3, -(2**62), 2**53 + 1, [[["x"]]]]
    update = doc.get_update()
    assert nesting_depth(update) == 4


def test_named_types_are_read_past_their_name() -> None:
    """An XML element and an XML hook (Yjs writes the hook, pycrdt cannot make one) carry a
    name after their kind; the value after them is read where it starts."""
    update = one_client(
        map_entry(7, "e") + write_var_uint(3) + write_var_string("p"),
        map_entry(7, "h") + write_var_uint(5) + write_var_string("hk"),
        map_entry(8, "k") + write_var_uint(1) + nested_arrays(3),
    )
    pycrdt.Doc().apply_update(update)  # what yrs reads too
    assert nesting_depth(update) == 3


def test_hostile_counts_end_with_the_update() -> None:
    # A million structs announced, one given: the reading stops at the end of the bytes.
    update = write_var_uint(1) + write_var_uint(10**6) + b"\x01\x00" + b"\x00\x01"
    with pytest.raises(ProtocolError):
        nesting_depth(update)
    huge_array = any_item_update(b"\x75" + write_var_uint(2**50) + b"\x7e" * 3)
    with pytest.raises(ProtocolError):
        nesting_depth(huge_array)
    with pytest.raises(ProtocolError, match="unknown content"):
        nesting_depth(write_var_uint(1) + b"\x01\x07\x00" + b"\x0b\x01\x01m")
    with pytest.raises(ProtocolError, match="unknown kind"):
        nesting_depth(write_var_uint(1) + b"\x01\x07\x00" + b"\x07\x01\x01m\x07")
    with pytest.raises(ProtocolError, match="number"):
        nesting_depth(b"\xff" * 12)
