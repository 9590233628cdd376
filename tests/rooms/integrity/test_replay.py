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
