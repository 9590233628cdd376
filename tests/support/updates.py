"""Yjs updates written byte by byte (the v1 encoding), for the shapes no editor makes: a
value nested deeper than rooms/update_check.py allows, a kind of item pycrdt cannot create,
a run of items no Yjs client leaves apart, updates that split a block at every step, map
entries that scan each other, the changes of many client ids."""

from __future__ import annotations

import pycrdt

from rooms.varint import write_var_string, write_var_uint


def map_entry(content: int, key: str) -> bytes:
    """The head of an item of content kind ``content`` under ``key`` of the root map ``m``."""
    head = bytes([content | 0x20]) + write_var_uint(1) + write_var_string("m")
    return head + write_var_string(key)


def one_client_update(structs: bytes, count: int) -> bytes:
    """An update of client 7's ``count`` structs, ``structs``, from clock 0."""
    head = write_var_uint(1) + write_var_uint(count) + write_var_uint(7) + write_var_uint(0)
    return head + structs + b"\x00"


def one_client(*structs: bytes) -> bytes:
    """An update of client 7's ``structs`` from clock 0, and an empty delete set."""
    return one_client_update(b"".join(structs), len(structs))


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


def merging_run(client: int, contents: list[bytes], units: int = 1) -> bytes:
    """Client ``client``'s items in the root text ``text``, each after the last character of
    the one before (the run yrs merges into one block, rooms/update_check.py rule 3).
    ``contents`` are the items' content kind and content (b"\\x04" + a string, say); each
    spans ``units`` clocks."""
    first, *rest = contents
    structs = [bytes([first[0]]) + write_var_uint(1) + write_var_string("text") + first[1:]]
    for i, content in enumerate(rest, start=1):
        origin = write_var_uint(client) + write_var_uint(i * units - 1)
        structs.append(bytes([0x80 | content[0]]) + origin + content[1:])
    head = write_var_uint(1) + write_var_uint(len(structs)) + write_var_uint(client) + b"\x00"
    return head + b"".join(structs) + b"\x00"


def null_values(count: int = 1) -> bytes:
    """An "any" content of ``count`` nulls (``count`` clocks), for :func:`merging_run`."""
    return b"\x08" + write_var_uint(count) + b"\x7e" * count


def one_string(text: str) -> bytes:
    """A string content, for :func:`merging_run`."""
    return b"\x04" + write_var_string(text)


def fragmenting(blocks: int) -> tuple[bytes, pycrdt.Doc[object]]:
    """A document of ``blocks`` two-character blocks of one client in its text ``text``
    (each written before the last, so yrs keeps them apart): its update, and the document."""
    doc: pycrdt.Doc[object] = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    for _ in range(blocks):
        text.insert(0, "xx")
    return doc.get_update(), doc


def splitting_deletes(doc: pycrdt.Doc[object]) -> bytes:
    """One update deleting the first character of each of ``doc``'s two-character blocks:
    a split of every block (rooms/pieces.py)."""
    text = doc.get("text", type=pycrdt.Text)
    before = doc.get_state()
    with doc.transaction():
        for block in range(len(text) // 2):
            del text[block : block + 1]
    return doc.get_update(before)


def splitting_inserts(doc: pycrdt.Doc[object]) -> bytes:
    """One update inserting a character inside each of ``doc``'s two-character blocks."""
    text = doc.get("text", type=pycrdt.Text)
    before = doc.get_state()
    with doc.transaction():
        for block in range(len(text) // 2):
            text.insert(3 * block + 1, "y")
    return doc.get_update(before)


def orphan_entries(count: int, key: str = "k", *, one_client: bool = False) -> bytes:
    """``count`` client ids (or one, ``one_client``) each setting ``key`` of the root map
    ``m`` to null, none with an origin (none saw another's): yrs places each by scanning
    every value the key had."""
    entry = map_entry(8, key) + write_var_uint(1) + b"\x7e"
    if one_client:
        return one_client_update(entry * count, count)
    one = write_var_uint(1)
    sections = (one + write_var_uint(1_000 + i) + b"\x00" + entry for i in range(count))
    return write_var_uint(count) + b"".join(sections) + b"\x00"


def many_clients(count: int) -> bytes:
    """``count`` client ids each writing one character of the root text ``text``, each after
    the one before: what yrs integrates in time growing with the square of ``count``."""
    first = write_var_uint(1) + write_var_uint(1_000) + b"\x00" + b"\x04" + write_var_uint(1)
    sections = [first + write_var_string("text") + write_var_string("a")]
    for i in range(1, count):
        head = write_var_uint(1) + write_var_uint(1_000 + i) + b"\x00"
        origin = write_var_uint(1_000 + i - 1) + b"\x00"
        sections.append(head + b"\x84" + origin + write_var_string("b"))
    return write_var_uint(count) + b"".join(sections) + b"\x00"
