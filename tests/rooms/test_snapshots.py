"""rooms/snapshots.py: what a compaction stores holds everything its updates held, with the
items yrs merges merged, so that loading it never costs the square of a run of them."""

from __future__ import annotations

import random
from typing import Any

import pycrdt
import pytest

from rooms.snapshots import squashed
from rooms.update_check import check_update
from rooms.varint import write_var_string, write_var_uint
from tests.support.updates import merging_run, null_values, one_client


def typed(count: int, *, deleting: bool = False, seed: int = 0) -> tuple[str, list[bytes]]:
    """``count`` characters typed one at a time at the end of a text (each its own update, as
    an editor sends them), now and then one deleted: the text and the updates."""
    rng = random.Random(seed)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for _ in range(count):
        text.insert(len(text), rng.choice("ab "))
        if deleting and rng.random() < 0.15 and len(text) > 3:
            at = rng.randrange(len(text) - 1)
            del text[at : at + 1]
    return str(text), updates


def loaded(*updates: bytes) -> pycrdt.Doc[Any]:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text)
    for update in updates:
        doc.apply_update(update)
    return doc


def text_of(doc: pycrdt.Doc[Any]) -> str:
    return str(doc.get("text", type=pycrdt.Text))


@pytest.mark.parametrize("deleting", [False, True])
def test_compactions_keep_the_text_and_merge_the_typed_characters(deleting: bool) -> None:
    final, updates = typed(3_000, deleting=deleting)
    head: bytes | None = None
    for at in range(0, len(updates), 500):  # as the store folds them, 500 at a time
        head = squashed([*([head] if head else []), *updates[at : at + 500]])
    assert head is not None
    assert text_of(loaded(head)) == final
    assert text_of(loaded(head, *updates[-700:])) == final  # updates folded twice: no change
    joined = pycrdt.merge_updates(*updates)
    assert text_of(loaded(joined)) == final
    if deleting:
        assert len(head) < len(joined) / 2
    else:
        # One item for the 3,000 characters, where the updates joined keep 3,000 items for
        # yrs to merge one pair at a time whenever the document is loaded.
        assert len(head) < 3_200
        assert len(joined) > 30_000


def test_a_run_grown_one_update_at_a_time_is_stored_merged() -> None:
    """One value after the last, 5,000 times, each update passing rule 3 on its own."""
    first = merging_run(9, [null_values()])
    rest = [
        write_var_uint(1) + write_var_uint(1) + write_var_uint(9) + write_var_uint(i)
        + bytes([0x88]) + write_var_uint(9) + write_var_uint(i - 1) + null_values()[1:] + b"\x00"
        for i in range(1, 5_000)
    ]  # fmt: skip
    for update in rest[:3]:
        check_update(update)
    snapshot = squashed([first, *rest])
    check_update(snapshot)  # one item: nothing left for yrs to merge when it is loaded
    assert len(snapshot) < 10_100
    values = loaded(snapshot).get("text", type=pycrdt.Text)
    assert str(values) == ""  # values in a text show as no characters, yet are all kept
    again: pycrdt.Doc[Any] = pycrdt.Doc()
    again.apply_update(snapshot)
    assert again.get_state() == loaded(first, *rest).get_state()


def test_an_item_the_document_holds_back_is_kept() -> None:
    """An item whose origin nobody has sent yet (client 5's clock 3): a document holds it
    back; the snapshot keeps it, and once client 5's text arrives, it shows."""
    _, updates = typed(40)
    waiting = one_client(bytes([0x84]) + b"\x05\x03" + write_var_string("zz"))
    snapshot = squashed([*updates[:20], waiting, *updates[20:]])
    fives: pycrdt.Doc[Any] = pycrdt.Doc(client_id=5)
    fives.get("text", type=pycrdt.Text).insert(0, "FIVE")
    from_fives = fives.get_update()
    expected = loaded(*updates, waiting, from_fives)
    assert "zz" in text_of(expected)
    assert text_of(loaded(snapshot, from_fives)) == text_of(expected)
    assert text_of(loaded(snapshot)) == text_of(loaded(*updates))  # held back until then


def test_deleted_text_is_kept_as_merge_updates_kept_it() -> None:
    """The snapshot keeps deleted characters (a document that skips garbage collection), as
    joining the updates did: the typing history replays from such a checkpoint."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    text.insert(0, "secret answer")
    del text[0:7]
    snapshot = squashed(updates)
    assert b"secret" in snapshot and b"secret" in pycrdt.merge_updates(*updates)
    assert text_of(loaded(snapshot)) == "answer"


def test_a_broken_update_is_refused_as_before() -> None:
    _, updates = typed(3)
    broken = b"\x01\x01\x09\x00\x04"  # ends inside its item
    with pytest.raises(ValueError, match="Cannot decode"):
        loaded(broken)
    # As joining them did: the store logs the compaction's failure and keeps the updates.
    with pytest.raises(ValueError, match="Cannot merge updates"):
        pycrdt.merge_updates(*updates, broken)
    with pytest.raises(ValueError, match="Cannot merge updates"):
        squashed([*updates, broken])
    with pytest.raises(ValueError, match="Cannot merge updates"):
        squashed([broken])
