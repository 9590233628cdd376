from __future__ import annotations

import pycrdt
import pytest

from rooms.integrity.replay import Replay, TextMeter, is_paste


def edits() -> list[bytes]:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    updates = []
    for action in ("type", "paste", "delete"):
        before = doc.get_state()
        if action == "type":
            text += "ab"
        elif action == "paste":
            text.insert(1, "X" * 300)
        else:
            del text[0:2]
        updates.append(doc.get_update(before))
    return updates


def test_replay_reports_each_update_change() -> None:
    replay = Replay()
    changes = [replay.apply(update) for update in edits()]
    assert [(c.inserted, c.deleted) for c in changes] == [(2, 0), (300, 0), (0, 2)]
    assert changes[1].delta == [{"retain": 1}, {"insert": "X" * 300}]
    assert replay.text == "X" * 299 + "b"


def test_meter_on_a_live_document_measures_only_between_start_and_take() -> None:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    meter = TextMeter(doc)
    first, second, _ = edits()
    doc.apply_update(first)  # not measured: no start()
    meter.start()
    doc.apply_update(second)
    assert meter.take().inserted == 300
    assert meter.take().inserted == 0
    meter.close()


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError):
        Replay().apply(b"not an update")


def test_paste_threshold() -> None:
    assert is_paste(300, 200)
    assert not is_paste(199, 200)
    assert not is_paste(10_000, 0)  # 0 turns the signal off


def test_the_meter_observes_the_native_text_and_sees_what_the_wrapper_sees() -> None:
    """The installed pycrdt's text has a native observer (if an upgrade removes it, the meter
    falls back to ``Text.observe`` and this test says so): both report the same changes,
    formatting included, and a closed meter records nothing more."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    updates = []
    for change in (
        lambda: text.insert(0, "héllo wörld"),
        lambda: text.format(0, 5, {"bold": True}),
        lambda: text.insert(5, ",", {"italic": True}),
        lambda: text.__delitem__(slice(2, 4)),
    ):
        before = doc.get_state()
        change()
        updates.append(doc.get_update(before))

    native_doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    native = TextMeter(native_doc)
    assert native.native
    seen_by_wrapper: list[list[dict[str, object]]] = []
    wrapped_doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    wrapped_text = wrapped_doc.get("text", type=pycrdt.Text)
    wrapped_text.observe(lambda event: seen_by_wrapper.append([dict(op) for op in event.delta]))
    changes = []
    for update in updates:
        native.start()
        native_doc.apply_update(update)
        changes.append(native.take())
        wrapped_doc.apply_update(update)
    assert [c.delta for c in changes] == seen_by_wrapper
    assert [(c.inserted, c.deleted) for c in changes] == [(11, 0), (0, 0), (1, 0), (0, 2)]
    assert changes[1].delta == [{"retain": 5, "attributes": {"bold": True}}]

    before = doc.get_state()
    text.insert(0, "more")
    native.close()
    native.start()
    native_doc.apply_update(doc.get_update(before))  # applied, but nobody observes now
    assert str(native_doc.get("text", type=pycrdt.Text)).startswith("more")
    assert native.take().delta == []
