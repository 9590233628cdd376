"""The lib0 varint codec: round trips, the bytes Yjs writes, and hostile input."""

from __future__ import annotations

import pycrdt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rooms.exceptions import ProtocolError
from rooms.varint import (
    MAX_VAR_UINT_BYTES,
    Reader,
    write_var_bytes,
    write_var_string,
    write_var_uint,
)

# The largest number Yjs writes (a JS safe integer) still fits in MAX_VAR_UINT_BYTES.
LARGEST = 2**53 - 1


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02")],
)
def test_var_uint_has_the_lib0_bytes(value: int, encoded: bytes) -> None:
    assert write_var_uint(value) == encoded
    assert Reader(encoded).var_uint() == value


@given(st.integers(min_value=0, max_value=LARGEST))
def test_var_uint_round_trips(value: int) -> None:
    encoded = write_var_uint(value)
    assert len(encoded) <= MAX_VAR_UINT_BYTES
    reader = Reader(encoded)
    assert reader.var_uint() == value
    assert reader.pos == len(encoded)


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_var_bytes_round_trip_back_to_back(items: list[bytes]) -> None:
    reader = Reader(b"".join(write_var_bytes(item) for item in items))
    assert [reader.var_bytes() for _ in items] == items
    assert reader.pos == len(reader.data)


@given(st.text(max_size=200))
def test_var_string_round_trips(text: str) -> None:
    assert Reader(write_var_string(text)).var_string() == text


def test_reads_what_pycrdt_writes() -> None:
    # A y-websocket sync frame is varUint type, varUint sub-type, varBytes state vector.
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text).insert(0, "hello")
    frame = pycrdt.create_sync_message(doc)
    reader = Reader(frame)
    assert (reader.var_uint(), reader.var_uint()) == (0, 0)
    assert reader.var_bytes() == doc.get_state()
    assert reader.pos == len(frame)


def test_negative_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="not negative"):
        write_var_uint(-1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "ends inside a number"),
        (b"\x80\x80", "ends inside a number"),
        (b"\xff" * 9, "longer than 8 bytes"),
    ],
)
def test_bad_numbers_raise_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        Reader(data).var_uint()


def test_a_length_past_the_end_raises() -> None:
    reader = Reader(b"\x05ab")
    with pytest.raises(ProtocolError, match="runs past the end"):
        reader.var_bytes()
    assert reader.pos == 1


def test_a_string_that_is_not_utf8_raises() -> None:
    with pytest.raises(ProtocolError, match="not UTF-8"):
        Reader(write_var_bytes(b"\xff\xfe")).var_string()


@given(st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes) -> None:
    reader = Reader(data)
    try:
        while reader.pos < len(data):
            reader.var_bytes()
    except ProtocolError:
        pass
    assert reader.pos <= len(data)
