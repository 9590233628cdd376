"""One update that holds many: what a compaction stores as a document's snapshot (and the
typing history's checkpoint); and what one update changed (rooms/sync.py rule 12). Sans I/O.

Design note. ``pycrdt.merge_updates`` joins updates without a document, and leaves every item
as it came: 40,000 characters typed one at a time (each its own item, after the last) made a
543 KB snapshot of 40,000 items where the document's own state is 40 KB, and applying that
snapshot when the document was next loaded took 0.9 s, the process waiting, because yrs then
merges the run of items one pair at a time (rooms/update_check.py rule 3: the time grows with
the square of the run). A student could grow such a run on purpose, one small update at a
time (each passes rule 3, and the live document merges each as it comes, cheaply): 10,000
one-value items made a snapshot that took 1.6 s and 2.3 GB to load, and a document's quota
holds ten times as many.

So :func:`squashed` applies the updates, 32 at a time, to a document that keeps deleted
content (as ``merge_updates`` did) and stores that document's state, in which yrs has merged
what it could: the 40,000 typed characters make a 40 KB snapshot that loads in well under a
millisecond. A document holds back an item whose origin it lacks, and its state leaves that
item out; such items (a hostile client's, or a broken one's) are added to the snapshot as they
came, so no item stored is lost. What is not kept is a deletion of items the document never
had (nobody had written them yet): the document that took the update in did not apply it
either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pycrdt

# Updates joined (``merge_updates``) before they are applied, one transaction for each so many:
# a transaction per update makes yrs merge each typed character into the text before it, a
# copy of that text each time (500 keystrokes at the end of 60,000 characters: 15.8 ms one
# at a time, 1.2 ms 32 at a time); a run of items a transaction merges costs the square of
# its length (rooms/update_check.py rule 3), so not many more.
CHUNK = 32


def squashed(updates: Sequence[bytes]) -> bytes:
    """One update holding everything of ``updates``, its items merged where yrs merges them.
    Raises ValueError, as ``merge_updates`` does, where one of them does not decode."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(skip_gc=True)
    try:
        parts = [
            pycrdt.merge_updates(*updates[at : at + CHUNK]) for at in range(0, len(updates), CHUNK)
        ]
        for part in parts:
            doc.apply_update(part)
        state = doc.get_state()
        # Each part's items past the document's state: the ones it holds back. (The first
        # byte of an update counts its client blocks; a count of 0 is the byte 0.)
        held_back = [rest for part in parts if (rest := pycrdt.get_update(part, state))[0]]
    except BaseException as exc:  # a stored update yrs cannot apply: join them as they are
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return pycrdt.merge_updates(*updates)
    if held_back:
        return pycrdt.merge_updates(doc.get_update(), *held_back)
    return doc.get_update()


def apply_reporting(
    doc: pycrdt.Doc[Any], update: bytes, apply: Callable[[bytes], None]
) -> tuple[bytes | None, int]:
    """Apply ``update`` to ``doc`` with ``apply``: what it changed, as yrs encodes the
    transaction (``update`` itself when that is no shorter; None when it changed nothing),
    and the bytes of its items the document holds back (their origin unknown to it)."""
    changes: list[bytes] = []
    subscription = doc.observe(lambda event: changes.append(event.update))
    try:
        apply(update)
    finally:
        doc.unobserve(subscription)
    rest = pycrdt.get_update(update, doc.get_state())
    held_back = len(rest) if rest[0] else 0  # client blocks past the document's state
    if not changes:
        return None, held_back
    changed = changes[0] if len(changes) == 1 else pycrdt.merge_updates(*changes)
    return (changed if len(changed) < len(update) else update), held_back
