"""rooms/pieces.py: an update that may split many blocks, cut into pieces that give the
document the very state the whole update gives."""

from __future__ import annotations

import random

import pycrdt
import pytest

from rooms.pieces import PIECE_SPLITS, pieces
from rooms.update_check import check_update
from tests.support.updates import fragmenting, splitting_deletes, splitting_inserts

Doc = pycrdt.Doc[object]


def text_of(doc: Doc) -> str:
    return str(doc.get("text", type=pycrdt.Text))


def applied(base: bytes, *updates: bytes) -> Doc:
    doc: Doc = pycrdt.Doc()
    doc.apply_update(base)
    for update in updates:
        doc.apply_update(update)
    return doc


def assert_same(whole: Doc, cut: Doc) -> None:
    assert text_of(cut) == text_of(whole)
    assert cut.get_state() == whole.get_state()
    assert dict(cut.get("meta", type=pycrdt.Map)) == dict(whole.get("meta", type=pycrdt.Map))


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
    reading = check_update(update)
    assert reading.splits > 3
    parts = pieces(update, most=3)
    assert len(parts) > 10
    assert all(check_update(part).splits <= 3 for part in parts)
    assert_same(applied(base, update), applied(base, *parts))
    # A classmate's edits arriving between two pieces: the same as before or after it all.
    classmate = applied(base)
    edit_at_random(rng, classmate, 20)
    theirs = classmate.get_update(server.get_state())
    middle = len(parts) // 2
    interleaved = applied(base, *parts[:middle], theirs, *parts[middle:])
    assert_same(applied(base, update, theirs), interleaved)


def test_a_typed_character_splits_at_most_two_blocks() -> None:
    doc: Doc = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    text.insert(0, "hello world")
    before = doc.get_state()
    text.insert(5, ",")
    assert check_update(doc.get_update(before)).splits == 2
    before = doc.get_state()
    text.insert(len(text), "!")
    assert check_update(doc.get_update(before)).splits <= 2
    before = doc.get_state()
    del text[0:3]
    assert check_update(doc.get_update(before)).splits == 2


@pytest.mark.parametrize("shape", [splitting_deletes, splitting_inserts])
def test_hostile_splits_come_in_pieces_of_a_bounded_count(shape: object) -> None:
    base, doc = fragmenting(3_000)
    update = shape(doc)  # type: ignore[operator]
    assert check_update(update).splits >= 3_000 > PIECE_SPLITS
    parts = pieces(update)
    assert len(parts) >= 3_000 // PIECE_SPLITS
    assert all(0 < check_update(part).splits <= PIECE_SPLITS for part in parts)
    assert_same(applied(base, update), applied(base, *parts))


def test_an_update_within_the_bound_is_one_piece() -> None:
    doc: Doc = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text).insert(0, "x" * 10_000)  # one struct: a paste
    update = doc.get_update()
    assert check_update(update).splits == 0
    (only,) = pieces(update)
    assert_same(applied(b"\x00\x00", update), applied(b"\x00\x00", only))
