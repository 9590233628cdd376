"""Typing replay and paste signals from a document's stored updates.

Design note. A stored update is a binary Yjs update; what a teacher wants to see is the
text change it made. :class:`TextMeter` watches the document's ``Y.Text`` (named ``text``,
as every editor binds it) and turns each applied update into a :class:`Change`: the text
delta (``retain`` / ``insert`` / ``delete`` runs, the Quill/Yjs delta format) and how many
characters it inserted and deleted. A replay applies the stored updates one by one to a
fresh document, in stored order, so the change of each is exactly what it did at that point.

The meter observes the text's own (Rust) type, ``Text.integrated``, when it has one: its events
carry the same delta, and pycrdt's Python wrapper around each event (a read transaction and a
wrapper object per event, about 7 µs) was a sizeable share of a live document update's cost.
Without it, :meth:`pycrdt.Text.observe` as before.

A paste is one update from the student that inserts at least ``threshold`` characters
(other than the exercise's starter code, which the editor seeds into an empty file):
typing produces one small update per keystroke (or a few per transaction), while a paste
arrives whole. It is a signal for a person to look at, never a verdict: an editor's
auto-format, a snippet the teacher gave, or edits made offline and sent on reconnect look
the same.
"""

from __future__ import annotations

import zlib
from typing import Any, NamedTuple

import pycrdt

TEXT_FIELD = "text"


class Change(NamedTuple):
    """What one update did to the text: its delta, the characters it inserted and deleted, and
    :func:`text_key` of the inserted text (None when nothing was inserted)."""

    delta: list[dict[str, Any]]
    inserted: int
    deleted: int
    inserted_key: int | None = None

    @property
    def inserted_text(self) -> str:
        return "".join(op["insert"] for op in self.delta if isinstance(op.get("insert"), str))


def text_key(text: str) -> int:
    """A stable key of a text (CRC-32), to recognise an insertion of known text — an
    exercise's starter code seeded by the editor — without storing the text twice."""
    return zlib.crc32(text.encode("utf-8"))


def is_paste(inserted: int, threshold: int) -> bool:
    """Whether one update inserting ``inserted`` characters counts as a paste."""
    return threshold > 0 and inserted >= threshold


class TextMeter:
    """Records the text changes of ``doc``'s ``text`` field between :meth:`start` and
    :meth:`take`; changes outside (stored or remote updates) are not kept."""

    def __init__(self, doc: pycrdt.Doc[Any], field: str = TEXT_FIELD) -> None:
        self.text = doc.get(field, type=pycrdt.Text)
        self._delta: list[dict[str, Any]] = []
        self._active = False
        native: Any = getattr(getattr(self.text, "integrated", None), "observe", None)
        self.native = callable(native)
        if self.native:
            self._subscription = native(self._seen)
        else:
            self._subscription = self.text.observe(self._seen)

    def _seen(self, event: Any) -> None:
        if self._active:
            # Each event builds its delta anew: its dicts are ours to keep.
            self._delta += event.delta

    def start(self) -> None:
        self._delta = []
        self._active = True

    def take(self) -> Change:
        """The change since :meth:`start`; stops recording."""
        delta, self._delta = self._delta, []
        self._active = False
        # One pass, no generator: this runs for every live update, before its broadcast.
        inserted = deleted = 0
        texts: list[str] = []
        for op in delta:
            text = op.get("insert")
            if text.__class__ is str:
                inserted += len(text)
                texts.append(text)
            elif "delete" in op:
                deleted += int(op["delete"])
        if not inserted:
            return Change(delta, 0, deleted)
        key = text_key(texts[0] if len(texts) == 1 else "".join(texts))
        return Change(delta, inserted, deleted, key)

    def close(self) -> None:
        if self.native:
            self._subscription.drop()
        else:
            self.text.unobserve(self._subscription)


class Replay:
    """A fresh document that stored updates are applied to, one at a time."""

    def __init__(self, field: str = TEXT_FIELD) -> None:
        self.doc: pycrdt.Doc[Any] = pycrdt.Doc()
        self.meter = TextMeter(self.doc, field)

    def apply(self, update: bytes) -> Change:
        """Apply one stored update; its text change (empty for a non-text update).

        Raises ValueError-like pycrdt errors for bytes that are not an update; the caller
        skips those (the live document never accepted them either)."""
        self.meter.start()
        try:
            self.doc.apply_update(update)
        finally:
            change = self.meter.take()
        return change

    @property
    def text(self) -> str:
        return str(self.meter.text)


def replay(checkpoint: bytes | None, updates: list[bytes]) -> tuple[str, list[Change | None]]:
    """The text at the checkpoint, then each update's change (None for bytes that are not an
    update: skipped, as the live document skipped them)."""
    session = Replay()
    if checkpoint is not None:
        session.apply(checkpoint)
    start = session.text
    changes: list[Change | None] = []
    for update in updates:
        try:
            changes.append(session.apply(update))
        except ValueError:
            changes.append(None)
    return start, changes
