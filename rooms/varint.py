"""The lib0 variable-length encoding every y-websocket frame is made of, sans I/O.

A varUint is little-endian base 128: seven bits a byte, the high bit set on every byte but
the last. varBytes is a varUint length and that many bytes; a varString is varBytes of UTF-8.

The decoder is ours rather than pycrdt's ``Decoder`` because hostile input must fail with
:class:`~rooms.exceptions.ProtocolError`, never an ``IndexError`` or a half-read state.
"""

from __future__ import annotations

from rooms.exceptions import ProtocolError

# Yjs writes client ids (uint32) and clocks (JS safe integers, < 2**53) as varUints:
# at most 8 bytes. A longer varUint is garbage, not a big number.
MAX_VAR_UINT_BYTES = 8


class Reader:
    """Reads varUints and length-prefixed bytes from one frame, raising ProtocolError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def var_uint(self) -> int:
        pos = self.pos
        if pos < len(self.data) and self.data[pos] < 0x80:
            # One byte, as message types and most lengths and clocks are.
            self.pos = pos + 1
            return self.data[pos]
        value = 0
        for shift in range(0, 7 * MAX_VAR_UINT_BYTES, 7):
            if self.pos >= len(self.data):
                raise ProtocolError("frame ends inside a number")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
        raise ProtocolError("number longer than 8 bytes")

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        end = self.pos + length
        if end > len(self.data):
            raise ProtocolError(f"length {length} runs past the end of the frame")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def var_string(self) -> str:
        try:
            return self.var_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("string is not UTF-8") from None


def write_var_uint(value: int) -> bytes:
    if value < 0:
        raise ValueError(f"a varUint is not negative: {value}")
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def write_var_bytes(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def write_var_string(text: str) -> bytes:
    return write_var_bytes(text.encode("utf-8"))


def decode_state_vector(data: bytes) -> dict[int, int]:
    """A v1 state vector: client -> the clock after their last item."""
    reader = Reader(data)
    return {reader.var_uint(): reader.var_uint() for _ in range(reader.var_uint())}
