from __future__ import annotations

import json

import pycrdt
import pytest

from rooms.awareness import (
    AwarenessEntry,
    AwarenessTable,
    decode_awareness,
    encode_awareness,
    labelled,
)
from rooms.exceptions import ProtocolError


def test_decodes_what_pycrdt_encodes_and_back() -> None:
    awareness = pycrdt.Awareness(pycrdt.Doc())
    awareness.set_local_state({"user": {"name": "Ada", "color": "#f00"}})
    payload = awareness.encode_awareness_update([awareness.client_id])
    [entry] = decode_awareness(payload)
    assert entry.client_id == awareness.client_id
    assert entry.clock == 1
    assert encode_awareness([entry]) == payload


def test_clock_rule_newer_wins_equal_only_to_remove() -> None:
    table = AwarenessTable()
    assert table.apply([AwarenessEntry(1, 5, '{"a":1}')])
    assert table.apply([AwarenessEntry(1, 4, '{"a":0}')]) == []
    assert table.apply([AwarenessEntry(1, 5, '{"a":2}')]) == []
    assert table.state(1) == '{"a":1}'
    assert table.apply([AwarenessEntry(1, 5, "null")]) == [AwarenessEntry(1, 5, "null")]
    assert table.state(1) is None
    assert table.present() == []


def test_remove_bumps_the_clock_once() -> None:
    table = AwarenessTable()
    table.apply([AwarenessEntry(9, 2, "{}")])
    assert table.remove([9, 10]) == [AwarenessEntry(9, 3, "null")]
    assert table.remove([9]) == []


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x01", b"\x01\x01", b"\x01\x01\x01\x05ab", b"\x01\x01\x01\x01{", b"\x02\x01\x01\x00"],
)
def test_truncated_or_non_json_payloads_are_protocol_errors(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_awareness(payload)


@pytest.mark.parametrize("state", ['{"user":NaN}', '{"cursor":Infinity}', "[-Infinity]", "1e999"])
def test_a_state_json_parse_would_throw_on_is_refused(state: str) -> None:
    """Python reads these; every stock client of the document would throw on them
    (y-protocols' applyAwarenessUpdate: "Unexpected token 'N'")."""
    payload = encode_awareness([AwarenessEntry(7, 1, '{"ok":1}'), AwarenessEntry(12, 1, state)])
    with pytest.raises(ProtocolError, match="client 12"):
        decode_awareness(payload)


@pytest.mark.parametrize(
    "state",
    [
        '{"cursor":{"anchor":3}}',  # a stock client: no user at all
        '{"user":{"name":"Alice","id":5,"color":"#f00"}}',  # the truth
        '{"user":{"color":"#f00"}}',  # names nobody
        '{"user":"Ms. Smith"}',  # not an object: no editor reads a name from it
        "null",  # a removal
    ],
)
def test_a_state_that_tells_no_lie_is_passed_on_as_sent(state: str) -> None:
    entry = AwarenessEntry(9, 3, state)
    assert labelled(entry, 5, "Alice") is entry


@pytest.mark.parametrize(
    "state",
    [
        '{"user":{"name":"Ms. Smith","color":"#f00","id":5},"cursor":null}',
        '{"user":{"name":"Alice","id":6,"color":"#f00"},"cursor":null}',  # someone's id
        # An escaped key is still "user" to JSON.parse, and to the check.
        '{"\\u0075ser":{"name":"Ms. Smith","color":"#f00","id":5},"cursor":null}',
        # Of two "user" keys a browser keeps the last, as Python's decoder does.
        '{"user":{"name":"Alice"},"user":{"name":"Ms. Smith","color":"#f00","id":5},"cursor":null}',
    ],
)
def test_a_state_naming_someone_else_carries_the_users_name(state: str) -> None:
    entry = AwarenessEntry(9, 3, state)
    fixed = labelled(entry, 5, "Alice")
    assert (fixed.client_id, fixed.clock) == (9, 3)
    assert json.loads(fixed.state) == {
        "user": {"name": "Alice", "color": "#f00", "id": 5},
        "cursor": None,
    }


def test_a_relabelled_state_holding_half_a_surrogate_pair_still_encodes() -> None:
    entry = AwarenessEntry(9, 3, '{"user":{"name":"Ms. Smith"},"note":"\\ud800"}')
    fixed = labelled(entry, 5, "Zoë")
    assert json.loads(fixed.state) == {"user": {"name": "Zoë"}, "note": "\ud800"}
    [back] = decode_awareness(encode_awareness([fixed]))
    assert back == fixed
