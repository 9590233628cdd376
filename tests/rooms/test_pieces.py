"""rooms/pieces.py: an update of many structs, cut into pieces that give the document the
very state the whole update gives."""

from __future__ import annotations

import random

import pycrdt
import pytest

from rooms.pieces import MOST_PIECE, PIECE_SECONDS, WHOLE_UNITS, next_piece, pieces
from rooms.update_check import check_update
from rooms.varint import decode_state_vector
from tests.support.updates import (
    fragmenting,
    orphan_entries,
    splitting_deletes,
    splitting_inserts,
)

Doc = pycrdt.Doc[object]


def text_of(doc: Doc) -> str:
    return str(doc.get("text", type=pycrdt.Text))


def applied(base: bytes, *updates: bytes) -> Doc:
    doc: Doc = pycrdt.Doc()
    doc.apply_update(base)
    for update in updates:
        doc.apply_update(update)
    return doc


def state_of(doc: Doc) -> dict[int, int]:
    """Its state vector, decoded: yrs encodes the clients in no set order (the same state
    came out in another order after a classmate's update between two pieces)."""
    return decode_state_vector(doc.get_state())


def assert_same(whole: Doc, cut: Doc) -> None:
    assert text_of(cut) == text_of(whole)
    assert state_of(cut) == state_of(whole)
    assert dict(cut.get("meta", type=pycrdt.Map)) == dict(whole.get("meta", type=pycrdt.Map))


def cut(update: bytes, units: int) -> list[bytes]:
    """Every piece of ``update``, ``units`` at a time."""
    parts = pieces(update)
    assert len(parts) == check_update(update).units
    structs, ranges = len(parts.structs), len(parts.ranges)
    out = []
    while parts:
        out.append(parts.take(units))
    assert len(out) == -(-structs // units) - (-ranges // units)  # structs, then ranges
    return out


def edit_at_random(rng: random.Random, doc: Doc, edits: int) -> None:
    text = doc.get("text", type=pycrdt.Text)
    meta = doc.get("meta", type=pycrdt.Map)
    for i in range(edits):
        roll = rng.random()
        if roll < 0.5 or len(text) < 8:
            text.insert(rng.randrange(len(text) + 1), rng.choice(["a", "bc", "def\n", "ü€"]))
        elif roll < 0.9:
            at = rng.randrange(len(text) - 4)
            del text[at : at + rng.randint(1, 4)]
        else:
            meta[f"k{i % 7}"] = i


@pytest.mark.parametrize("seed", range(8))
def test_a_class_of_edits_cut_small_gives_what_the_whole_gives(seed: int) -> None:
    rng = random.Random(seed)
    server: Doc = pycrdt.Doc()
    server.get("text", type=pycrdt.Text).insert(0, "print('hello')\n" * 40)
    base = server.get_update()
    # Three clients edit offline from the same state, then one brings all their changes
    # (a reconnecting client's step2 holds every client it has heard from); in pieces,
    # a struct whose origin is another client's in a later piece waits in yrs for it.
    clients = [applied(base) for _ in range(3)]
    for client in clients:
        with client.transaction():
            edit_at_random(rng, client, 150)
    merged = applied(base, *(client.get_update() for client in clients))
    update = merged.get_update(server.get_state())
    assert check_update(update).units > WHOLE_UNITS
    for units in (1, 3, 50):
        parts = cut(update, units)
        assert all(check_update(part).units <= units for part in parts)
        assert_same(applied(base, update), applied(base, *parts))
    parts = cut(update, 3)
    # A classmate's edits arriving between two pieces: the same as before or after it all.
    classmate = applied(base)
    edit_at_random(rng, classmate, 20)
    theirs = classmate.get_update(server.get_state())
    middle = len(parts) // 2
    interleaved = applied(base, *parts[:middle], theirs, *parts[middle:])
    assert_same(applied(base, update, theirs), interleaved)


def test_typing_pasting_and_deleting_are_a_unit_or_two() -> None:
    doc: Doc = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    text.insert(0, "hello world")
    for change in (
        lambda: text.insert(5, ","),
        lambda: text.insert(len(text), "!" * 10_000),
        lambda: text.__delitem__(slice(0, 3)),
    ):
        before = doc.get_state()
        change()
        assert check_update(doc.get_update(before)).units == 1
    assert check_update(doc.get_update()).units <= WHOLE_UNITS


@pytest.mark.parametrize("shape", [splitting_deletes, splitting_inserts])
def test_hostile_splits_come_in_pieces(shape: object) -> None:
    base, doc = fragmenting(3_000)
    update = shape(doc)  # type: ignore[operator]
    assert check_update(update).units >= 3_000
    parts = cut(update, 256)
    assert_same(applied(base, update), applied(base, *parts))


def test_map_entries_without_an_origin_come_in_pieces() -> None:
    update = orphan_entries(2_000)
    assert check_update(update).units == 2_000
    empty = pycrdt.Doc().get_update()
    whole, in_pieces = applied(empty, update), applied(empty, *cut(update, 64))
    assert state_of(whole) == state_of(in_pieces)
    assert dict(whole.get("m", type=pycrdt.Map)) == dict(in_pieces.get("m", type=pycrdt.Map))


def test_a_piece_grows_while_it_is_quick_and_shrinks_while_it_is_slow() -> None:
    assert next_piece(8, PIECE_SECONDS / 10) == 16
    assert next_piece(MOST_PIECE, 0.0) == MOST_PIECE
    assert next_piece(8, PIECE_SECONDS) == 8
    assert next_piece(8, PIECE_SECONDS * 3) == 4
    assert next_piece(1, 10.0) == 1
