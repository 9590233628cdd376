"""Yjs updates written byte by byte (the v1 encoding), for the shapes no editor makes: a
value nested deeper than rooms/update_check.py allows, a kind of item pycrdt cannot create."""

from __future__ import annotations

from rooms.varint import write_var_string, write_var_uint


def map_entry(content: int, key: str) -> bytes:
    """The head of an item of content kind ``content`` under ``key`` of the root map ``m``."""
    head = bytes([content | 0x20]) + write_var_uint(1) + write_var_string("m")
    return head + write_var_string(key)


def one_client(*structs: bytes) -> bytes:
    """An update of client 7's ``structs`` from clock 0, and an empty delete set."""
    head = write_var_uint(1) + write_var_uint(len(structs)) + write_var_uint(7) + write_var_uint(0)
    return head + b"".join(structs) + b"\x00"


def any_item_update(value: bytes) -> bytes:
    """One item in the root map ``m`` (key ``k``) holding one encoded "any" value."""
    return one_client(map_entry(8, "k") + write_var_uint(1) + value)


def nested_arrays(depth: int) -> bytes:
    """lib0's writeAny of ``[[[…[null]…]]]``: ``depth`` arrays, two bytes each."""
    return b"\x75\x01" * depth + b"\x7e"


def text_insert(client: int, clock: int, text: str) -> bytes:
    """Client ``client`` inserting ``text`` at the start of the root text ``text``, its
    first character at ``clock``."""
    item = bytes([4]) + write_var_uint(1) + write_var_string("text") + write_var_string(text)
    head = write_var_uint(1) + write_var_uint(1) + write_var_uint(client) + write_var_uint(clock)
    return head + item + b"\x00"


# A clock whose last character ends at 2**32 - 1: yrs (0.28) keeps clocks in 32 bits, and
# applying this after the same client's earlier text panics halfway through the change (which
# may leave the document half-changed: rooms/sync.py rule 9).
PANIC_CLOCK = 2**32 - 6
